package lj

import (
	"testing"
)

// HAProxy 2.6's converters on dates, integers, Host values and
// Accept-Language; the answers are HAProxy's.
func TestLuaConvertersHAProxy26(t *testing.T) {
	runLua(t, `
local c, sc = I.new_converters(false), I.new_converters(true)
eq(c:utime(86400, "%Y-%m-%d %H:%M", 60), "1970-01-02 00:01", "utime")
eq(c:utime(0, "*t"), "*t", "utime: *t is text")
eq(c:utime(0, "!%Y"), "!1970", "utime: ! is text")
eq(c:ltime(0, "%%"), "%", "ltime")
eq(c:http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT", "http_date")
eq(c:http_date(0, 3600), "Thu, 01 Jan 1970 01:00:00 GMT", "http_date offset")
eq(c:http_date(1500, 0, "ms"), "Thu, 01 Jan 1970 00:00:01.500 GMT", "http_date ms")
eq(c:http_date(1000007, 0, "us"), "Thu, 01 Jan 1970 00:00:01.7 GMT", "http_date us: no leading zeros")
eq(sc:http_date("86400"), "Fri, 02 Jan 1970 00:00:00 GMT", "sc http_date of a string")
raises("unexpected unit 'x'", function() return c:http_date(0, 0, "x") end)
eq(c:cpl(5), -6, "cpl")
eq(c:hex(c:htonl(258)), "00000102", "htonl")
eq(c:hex(c:htonl(-1)), "FFFFFFFF", "htonl: the low 32 bits")
eq(c:host_only("WWW.X.com:8080"), "www.x.com", "host_only")
eq(c:host_only("[::1]"), "[::1]", "host_only v6")
eq(c:host_only("[::1]:80"), "[::1]", "host_only v6 port")
eq(c:port_only("x.com:8080"), 8080, "port_only")
eq(c:port_only("x.com"), 0, "port_only none")
eq(c:port_only("[::1]"), 0, "port_only v6 none")
eq(c:language("fr;q=0.5,en-GB;q=0.8", "de;en;fr"), "en", "language: a tag matches its prefix")
eq(c:language("de-CH, fr", "fr;de"), "de", "language: the first with q 1")
eq(c:language("it", "de;en", "xx"), "xx", "language default")
eq(c:language("it", "de;en"), nil, "language none")
eq(sc:language("it", "de;en"), "", "sc language none")
-- Without a request, a variable is unset: no sample.
eq(c:strcmp("a", "txn.x"), nil, "strcmp without a request")
eq(c:concat("a", "<", "txn.x", ">"), "a<>", "concat without the variable")
eq(c:add_item("a", ",", "", "s"), "a,s", "add_item with a suffix only")
raises("'b' is not a variable name", function() return c:strcmp("a", "b") end)
raises("a variable or a suffix is needed", function() return c:add_item("a", ",") end)
eq(c:nbsrv("nope"), nil, "nbsrv of no backend")
`)
}

// The fetches of constants, and of the HTTP message, on a request.
func TestFetchesHAProxy26(t *testing.T) {
	s := newTestState(t, `core.register_action("a", { "http-req" }, function(txn)
		local f, sf, out = txn.f, txn.sf, {}
		local function add(v) out[#out + 1] = tostring(v) end
		local function err(fn, ...)
			local ok, e = pcall(fn, ...)
			add(ok and "no error" or e:gsub("^.-:%d+: ", ""))
		end
		add(f:int(42)) add(sf:int(7)) add(f:str("x")) add(f:bool("true")) add(sf:bool("0"))
		add(f:always_true()) add(f:bin("4142")) add(f:env("LUAEDGE_TEST_UNSET")) add(f:nbproc())
		err(f.int, f, "42") err(f.str, f, 5) err(f.bool, f, "x") err(f.date, f, 0, "x")
		add(f:date(10) - f:date()) add(f:ipv4("10.0.0.1")) err(f.ipv6, f, "10.0.0.1")
		add(f:hdr_val("x-n")) add(f:req_hdr_val("x-n", 1)) add(f:hdr_val("x-a")) add(f:hdr_val("x-none"))
		add(f:hdr_ip("x-ip")) add(f:hdr_ip("x-a")) add(f:req_fhdr_cnt("x-n")) add(f:req_hdr_names("|"))
		add(f:pathq()) add(f:url_ip()) add(f:url_port()) add(f:urlp_val("n")) add(f:http_auth_user())
		add(f:http_auth_pass()) add(f:http_auth_type()) add(f:cookie("c"))
		err(f.nbsrv, f) err(f.nbsrv, f, "nope") err(f.srv_is_up, f, "nope/s") err(f.table_cnt, f, "nope")
		-- An error points at the script's call, however deep the check.
		local function at(fn) local _, e = pcall(fn) add(e:match("^test%.lua:%d+:") ~= nil) end
		at(function() local v = f:srv_is_up(5) return v end) at(function() local v = f:bool("x") return v end)
		txn:set_var("txn.out", table.concat(out, ";"))
	end)
	core.register_service("echo", "http", function(a)
		a:start_response()
		a:send(a:get_var("txn.out"))
	end)`, 0)
	id, err := s.Program("http", []string{"lua.a"}, nil, "echo", false, StickNames{}, false)
	if err != nil {
		t.Fatal(err)
	}
	th := newRequest(t, s, id, "/p")
	th.S.SetRequestLine([]byte("GET"), []byte("http://10.0.0.9:81/p?n=5"), []byte("/p"), []byte("n=5"), 1, 1)
	for _, h := range [][2]string{{"x-n", "12abc"}, {"x-n", "7"}, {"x-a", "hello"}, {"x-ip", "10.1.2.3:80"},
		{"Authorization", "Basic dXNlcjpwYXNz"}, {"Cookie", "c=v1"}} {
		th.S.AddField([]byte(h[0]), []byte(h[1]))
	}
	if r := th.Resume(0); r.Dead {
		t.Fatal(r.Msg)
	}
	want := "42;7;x;1;0;1;AB;nil;1;" +
		"bad argument #1 to 'int' (integer expected);bad argument #1 to 'str' (unable to duplicate string arg);" +
		"error in arguments;error in arguments;10;10.0.0.1;bad argument #1 to 'ipv6' (invalid IPv6 address);" +
		"7;12;0;nil;10.1.2.3;nil;2;x-n|x-n|x-a|x-ip|authorization|cookie;" +
		"/p?n=5;10.0.0.9;81;5;user;pass;Basic;v1;" +
		"bad argument #1 to 'nbsrv' (Mandatory argument expected);bad argument #1 to 'nbsrv' (backend doesn't exist);" +
		"bad argument #1 to 'srv_is_up' (server doesn't exist);bad argument #1 to 'table_cnt' (table doesn't exist);true;true"
	if got := string(th.S.Out()); got != want {
		t.Errorf("out =\n%s\nwant\n%s", got, want)
	}
	s.Release(th)
}
