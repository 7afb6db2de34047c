-- HTTP: the class a TXN exposes as txn.http, to read and change the request
-- and the response. Reference: HAProxy Lua API, class HTTP.
-- Changes are written into the stream struct, so what a later action, the
-- service or Go reads is the changed message.
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")

local ffi_string = ffi.string
local type, tostring = type, tostring
local table_new = require("table.new")

local HTTP = {}
local mt = { __index = HTTP, __tostring = function() return "HTTP" end }

-- new_http makes txn.http, once per coroutine as its TXN.
function I.new_http(txn)
	local h = setmetatable({}, mt)
	I.owner[h] = I.owner[txn]
	return h
end

local stream_of_ = I.stream_of
local function stream_of(self, fname)
	return stream_of_(self, fname, "HTTP")
end

local function need_string(fname, n, v)
	if type(v) ~= "string" then
		error("bad argument #" .. n .. " to '" .. fname .. "' (string expected, got " .. type(v) .. ")", 3)
	end
end

local function add_field(t, base, f)
	if f.name.len == 0 then return end -- deleted
	local name = ffi_string(base + f.name.off, f.name.len)
	local value = ffi_string(base + f.value.off, f.value.len)
	local vals = t[name]
	if vals == nil then
		t[name] = { [0] = value }
	else
		vals[#vals + 1] = value
	end
end

-- collect adds fields[0..n-1] to t. The first 16 are unrolled into
-- straight code: a short loop would end the LuaJIT trace of the request,
-- and the FFI accesses would then run interpreted, many times slower.
local collect = assert(loadstring((function()
	local src = { "local add = ...\nreturn function(t, base, fields, n)\n" }
	for i = 0, 15 do
		src[#src + 1] = string.format("if n > %d then add(t, base, fields[%d]) else return t end\n", i, i)
	end
	src[#src + 1] = "for i = 16, n - 1 do add(t, base, fields[i]) end\nreturn t\nend\n"
	return table.concat(src)
end)(), "=luaedge/collect"))(add_field)

-- get_headers returns HAProxy's table of the request (resp false) or the
-- response headers of stream s: lower-case name -> {[0]=v1, [1]=v2}.
local function get_headers(s, resp)
	-- Sized for one name per field: filling it causes no rehash.
	if resp then
		local n = s.nrfields
		return collect(table_new(0, n), s.resp.p, s.rfields, n)
	end
	local n = s.nfields
	return collect(table_new(0, n), s.head.p, s.fields, n)
end
I.get_headers = get_headers

-- Deleting a field zeroes its name: readers skip it, Go does not send it.
local function req_del(s, name) I.del_fields(s, 0, name, #name) end
local function res_del(s, name) I.del_fields(s, 1, name, #name) end

local function req_add(s, name, value)
	if type(value) ~= "string" then value = tostring(value) end
	if I.head_full(s, false, #name + #value) then error("the request head " .. I.HEAD_FULL, 3) end
	if I.add_field(s, name, #name, value, #value) ~= 0 then error("out of memory", 3) end
end

local function res_add(s, name, value)
	if type(value) ~= "string" then value = tostring(value) end
	if I.head_full(s, true, #name + #value) then error("the response head " .. I.HEAD_FULL, 3) end
	if I.add_rfield(s, name, #name, value, #value) ~= 0 then error("out of memory", 3) end
end

function HTTP.req_get_headers(self)
	return get_headers(stream_of(self, "req_get_headers"), false)
end

function HTTP.res_get_headers(self)
	return get_headers(stream_of(self, "res_get_headers"), true)
end

function HTTP.req_add_header(self, name, value)
	local s = stream_of(self, "req_add_header")
	need_string("req_add_header", 2, name)
	req_add(s, name, value)
end

function HTTP.res_add_header(self, name, value)
	local s = stream_of(self, "res_add_header")
	need_string("res_add_header", 2, name)
	res_add(s, name, value)
end

function HTTP.req_del_header(self, name)
	local s = stream_of(self, "req_del_header")
	need_string("req_del_header", 2, name)
	req_del(s, name)
end

function HTTP.res_del_header(self, name)
	local s = stream_of(self, "res_del_header")
	need_string("res_del_header", 2, name)
	res_del(s, name)
end

function HTTP.req_set_header(self, name, value)
	local s = stream_of(self, "req_set_header")
	need_string("req_set_header", 2, name)
	req_del(s, name)
	req_add(s, name, value)
end

function HTTP.res_set_header(self, name, value)
	local s = stream_of(self, "res_set_header")
	need_string("res_set_header", 2, name)
	res_del(s, name)
	res_add(s, name, value)
end

-- rep_header: every value of name that matches regex is replaced by
-- replace, in which \1..\9 are the regex's captures (HAProxy's
-- replace-header semantics: the whole value is replaced). The field keeps
-- its place among the others.
local function rewrite(fname, s, resp, name, regex, replace, each)
	local buf, fields, n = s.head, s.fields, s.nfields
	if resp then buf, fields, n = s.resp, s.rfields, s.nrfields end
	need_string(fname, 2, name)
	need_string(fname, 3, regex)
	need_string(fname, 4, replace)
	name = name:lower()
	local base = buf.p
	for i = 0, n - 1 do
		local f = fields[i]
		if f.name.len == #name and ffi_string(base + f.name.off, f.name.len) == name then
			local v = ffi_string(base + f.value.off, f.value.len)
			local nv
			if each then nv = each(v, regex, replace) else nv = I.gocall(I.go.rep_value, v, regex, replace) end
			if nv ~= nil then
				if I.head_full(s, resp, #nv) then error(fname .. ": the head " .. I.HEAD_FULL, 3) end
				if I.buf_put(buf, nv, #nv, f.value) ~= 0 then error(fname .. ": out of memory", 3) end
				base = buf.p -- the buffer may have moved
			end
		end
	end
end


function HTTP.req_rep_header(self, name, regex, replace)
	local s = stream_of(self, "req_rep_header")
	rewrite("req_rep_header", s, false, name, regex, replace)
end

function HTTP.res_rep_header(self, name, regex, replace)
	local s = stream_of(self, "res_rep_header")
	rewrite("res_rep_header", s, true, name, regex, replace)
end
-- rep_value: like rep_header, applied to each comma-separated value.
local function rep_each(v, regex, replace)
	local out, changed = {}, false
	for part in (v .. ","):gmatch("([^,]*),") do
		local lead, core_, trail = part:match("^(%s*)(.-)(%s*)$")
		local nv = I.gocall(I.go.rep_value, core_, regex, replace)
		if nv ~= nil then changed = true else nv = core_ end
		out[#out + 1] = lead .. nv .. trail
	end
	if changed then return table.concat(out, ",") end
	return nil
end

function HTTP.req_rep_value(self, name, regex, replace)
	local s = stream_of(self, "req_rep_value")
	rewrite("req_rep_value", s, false, name, regex, replace, rep_each)
end

function HTTP.res_rep_value(self, name, regex, replace)
	local s = stream_of(self, "res_rep_value")
	rewrite("res_rep_value", s, true, name, regex, replace, rep_each)
end

local function put(s, v, span, fname)
	if I.head_full(s, false, #v) then error(fname .. ": the request head " .. I.HEAD_FULL, 3) end
	if I.buf_put(s.head, v, #v, span) ~= 0 then error(fname .. ": out of memory", 3) end
end

-- put_line is put for a part of the request line: the line as it came
-- is kept first, for capture.req.* (only in a request's entry, whose end
-- forgets it).
local function put_line(s, v, span, fname)
	I.keep_request_line(s)
	if I.head_full(s, false, #v) then error(fname .. ": the request head " .. I.HEAD_FULL, 3) end
	if I.buf_put(s.head, v, #v, span) ~= 0 then error(fname .. ": out of memory", 3) end
end

-- target rebuilds the request-target from path and query.
-- set_target writes the target anew from the path and query, after the
-- scheme and authority of an absolute-form target, which stay (HAProxy
-- forwards "GET http://h/new" after a set-path).
local function set_target(s)
	local t = I.span(s, s.path)
	if s.query.len > 0 then t = t .. "?" .. I.span(s, s.query) end
	local old = I.span(s, s.target)
	if old ~= nil and old:byte() ~= 47 then
		local prefix = old:match("^%a[%w+.-]*://[^/?]*")
		if prefix then t = prefix .. t end
	end
	put_line(s, t, s.target, "set target")
end
I.req_put, I.set_target = put_line, set_target -- for the hooks' mut.req (hooks.lua)
I.addr_put = put -- for set-src and set-dst (txn.lua)

function HTTP.req_set_method(self, method)
	local s = stream_of(self, "req_set_method")
	need_string("req_set_method", 2, method)
	if not method:match("^[%w!#$%%&'*+%-.^_`|~]+$") then
		error("req_set_method: invalid method '" .. method .. "'", 2)
	end
	put_line(s, method, s.method, "req_set_method")
	return true
end

function HTTP.req_set_path(self, path)
	local s = stream_of(self, "req_set_path")
	need_string("req_set_path", 2, path)
	if path:find("[%c ?]") then error("req_set_path: invalid path", 2) end
	put_line(s, path, s.path, "req_set_path")
	set_target(s)
	return true
end

function HTTP.req_set_query(self, query)
	local s = stream_of(self, "req_set_query")
	need_string("req_set_query", 2, query)
	if query:sub(1, 1) == "?" then query = query:sub(2) end
	if query:find("[%c ]") then error("req_set_query: invalid query", 2) end
	put_line(s, query, s.query, "req_set_query")
	set_target(s)
	return true
end

function HTTP.req_set_uri(self, uri)
	local s = stream_of(self, "req_set_uri")
	need_string("req_set_uri", 2, uri)
	if uri:find("[%c ]") or uri == "" then error("req_set_uri: invalid uri", 2) end
	local path, query = uri:match("^([^?]*)%??(.*)$")
	local scheme_host, p = path:match("^(%a[%w+.-]*://[^/]*)(.*)$")
	if scheme_host then path = p ~= "" and p or "/" end
	put_line(s, path, s.path, "req_set_uri")
	put_line(s, query, s.query, "req_set_uri")
	put_line(s, uri, s.target, "req_set_uri")
	if scheme_host and I.span(s, s.method) ~= "CONNECT" then
		-- As HAProxy: an absolute URI's authority (without user info)
		-- becomes the value of each Host field there is.
		local authority = scheme_host:match("://(.*)$"):gsub("^.*@", "")
		local host = authority ~= "" and get_headers(s, false).host
		if host then
			req_del(s, "host")
			for i = 0, #host do req_add(s, "host", authority) end
		end
	end
	return true
end

function HTTP.res_set_status(self, status, reason)
	local s = stream_of(self, "res_set_status")
	status = tonumber(status)
	if status == nil or not (status >= 100 and status <= 999) then
		error("bad argument #2 to 'res_set_status' (status code 100-999 expected)", 2)
	end
	s.status = status
	if reason ~= nil then
		reason = tostring(reason)
		if I.head_full(s, true, #reason) then error("res_set_status: the response head " .. I.HEAD_FULL, 2) end
		I.set_reason(s, reason, #reason)
	else
		s.reason.len = 0
	end
end

-- early_hints sends a 103 (Early Hints) interim response with fields to the
-- client now, before the final response (a luaedge extension; HAProxy's
-- configuration has http-request early-hint). fields lists {name, value}
-- pairs in order; other keys map a name to a value or a list of values.
-- An HTTP/1.0 client, or a request whose response has started, gets
-- nothing, as HAProxy sends 103 to HTTP/1.1 and HTTP/2 clients only.
-- The request waits until the 103 is handed to the connection.
local find = string.find
function HTTP.early_hints(self, fields)
	local s, ctx = stream_of(self, "early_hints")
	if type(fields) ~= "table" then
		error("bad argument #2 to 'early_hints' (table expected, got " .. type(fields) .. ")", 2)
	end
	s.io.len = 0
	local function add(name, value)
		name, value = tostring(name), tostring(value)
		if name == "" or find(name, "[^%w!#$%%&'*+.^_`|~-]") then
			error("early_hints: invalid field name '" .. name .. "'", 3)
		end
		if find(value, "[%z\r\n]") then
			error("early_hints: the value of '" .. name .. "' holds CR, LF or NUL", 3)
		end
		local line = name:lower() .. ": " .. value .. "\r\n"
		if I.buf_append(s.io, line, #line) ~= 0 then error("early_hints: out of memory", 3) end
	end
	for _, kv in ipairs(fields) do
		if type(kv) ~= "table" then error("bad argument #2 to 'early_hints' ({name, value} pairs expected)", 2) end
		add(kv[1], kv[2])
	end
	for k, v in pairs(fields) do
		if type(k) == "string" then
			if type(v) == "table" then
				for _, x in ipairs(v) do add(k, x) end
			else
				add(k, v)
			end
		end
	end
	if s.io.len == 0 then return end
	I.wait(ctx, I.OP_INTERIM, 103)
end

I.HTTP = HTTP
