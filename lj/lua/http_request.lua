-- http.request: lua-http's HTTP client (request objects, :go(), and the
-- stream interface of their responses), on luaedge's loops; and
-- core.resolve. Reference: lua-http, modules http.request and stream.
-- Go's half: proxy/client.go (the exchanges and their connections),
-- resolver/ (DNS).
--
-- Every call that waits parks the request's coroutine (OP_SOCKET with an
-- LE_SOCK_HTTP* operation) and takes an optional timeout in seconds;
-- errors come back as lua-http's: nil, message, errno (ETIMEDOUT on a
-- timeout). These work where a script may wait: actions, services, tasks.
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")

local ffi_string = ffi.string
local type, tostring, tonumber, error, setmetatable, pairs, pcall = type, tostring, tonumber, error, setmetatable, pairs, pcall
local find, sub, match, format, lower, byte, rep = string.find, string.sub, string.match, string.format, string.lower, string.byte, string.rep
local concat, clear = table.concat, require("table.clear")
local floor, huge = math.floor, math.huge

local C = ffi.C
local HTTP, HTTP_READ, HTTP_WRITE, RESOLVE = C.LE_SOCK_HTTP, C.LE_SOCK_HTTP_READ, C.LE_SOCK_HTTP_WRITE, C.LE_SOCK_RESOLVE
local OK, ETIMEOUT, ECLOSED = C.LE_SOCK_OK, C.LE_SOCK_ETIMEOUT, C.LE_SOCK_ECLOSED
local buf_append, mono_us, gocall = I.buf_append, I.mono_us, I.gocall
local headers_mt, headers_sized, secret = I.http_headers.mt, I.headers_sized, I.header_secret

-- errno values luaedge returns (Linux's), as cqueues.errno names them.
local errno = {
	EBADF = 9, EACCES = 13, EINVAL = 22, EMSGSIZE = 90, EPROTO = 71, ELOOP = 40, EILSEQ = 84,
	EOPNOTSUPP = 95, EAFNOSUPPORT = 97, ENETUNREACH = 101,
	ECONNRESET = 104, ETIMEDOUT = 110, ECONNREFUSED = 111, EHOSTUNREACH = 113,
}
local ETIMEDOUT = errno.ETIMEDOUT

-- ms turns a timeout in seconds into the milliseconds Go reads (an
-- int32; 0: none).
local function ms(timeout)
	if timeout == nil then return 0 end
	timeout = tonumber(timeout)
	if timeout == nil or timeout ~= timeout then error("bad timeout (number of seconds expected)", 3) end
	if timeout <= 0 then return 1 end
	return floor(math.min(timeout, 2147483) * 1000) + 1
end

-- deadline and left keep one timeout across several waits.
local function deadline(timeout)
	if timeout == nil then return nil end
	return mono_us() + tonumber(timeout) * 1e6
end
local function left(dl)
	if dl == nil then return nil end
	local t = (dl - mono_us()) / 1e6
	return t > 0 and t or 0
end

-- Streams whose objects were collected before their body's end: Go
-- lets their exchanges go at the next operation (a finalizer must not
-- call into Go).
local gone = {}
local ngone = 0

-- op runs one operation of the client in Go and returns its result code,
-- the exchange id, the bytes back and the trailers' length in them.
local function op(fname, code, id, arg, timeout, data)
	local s, ctx = I.current()
	if s == nil then
		error(fname .. ": works in actions, services and tasks only (it waits for the network)", 3)
	end
	if ngone > 0 then
		for i = 1, ngone do
			gocall(I.go.http_close, gone[i])
			gone[i] = nil
		end
		ngone = 0
	end
	-- io once: each s.io makes a reference object where the JIT does not run.
	local io = s.io
	s.sock, s.sock_op, s.sock_arg, s.sock_ms = id, code, arg, timeout
	io.len = 0
	if data then buf_append(io, data, #data) end
	I.wait(ctx, I.OP_SOCKET)
	return s.sock_res, s.sock, ffi_string(io.p, io.len), s.sock_arg
end

-- failure turns an error result ("ERRNO message") into nil, msg, errno.
local function failure(res, out)
	local n, msg = match(out, "^(%d+) (.*)$")
	if n == nil then return nil, out, nil end
	if res == ETIMEOUT then return nil, msg, ETIMEDOUT end
	return nil, msg, tonumber(n)
end

-- fields reads "N\n" and N fields, "name\nvalue\n" (names lower-case),
-- at pos into a new headers object, after a :status field if status is
-- given; it returns the object and the position after the fields.
local function fields(s, pos, status)
	local e = find(s, "\n", pos, true)
	local n = tonumber(sub(s, pos, e - 1))
	pos = e + 1
	local h = headers_sized(status and n + 1 or n)
	local names, values, never, k = h.names, h.values, h.never, 0
	if status then
		names[1], values[1], never[1], k = ":status", status, false, 1
	end
	for _ = 1, n do
		local a = find(s, "\n", pos, true)
		local b = find(s, "\n", a + 1, true)
		local name = sub(s, pos, a - 1)
		k = k + 1
		names[k], values[k], never[k] = name, sub(s, a + 1, b - 1), secret[name] or false
		pos = b + 1
	end
	h.n = k
	return h, pos
end

------------------------------------------------------------------------
-- The stream of a response (lua-http's stream interface, client side).

local Stream = {}
local stream_mt = { __name = "http.stream", __index = Stream }
stream_mt.__tostring = function(self) return "http.stream{" .. (self.id or 0) .. "}" end

-- A collected stream whose body did not end lets its exchange go; one
-- whose tunnel the script did not take closes it.
local function watch(st)
	local p = newproxy(true)
	local id = st.id
	getmetatable(p).__gc = function()
		if not st.done or (st.tunnel and not st.taken) then
			ngone = ngone + 1
			gone[ngone] = id
		end
	end
	st.gc = p
end

-- stream.connection: lua-http's connection of the stream, for
-- take_socket() only. A 2xx answer to a CONNECT, or a 101 to an Upgrade,
-- made the connection a socket in Go (with the exchange's id), which
-- take_socket hands to the script once, as a core.tcp() Socket; any
-- other stream has none (nil).
local tunnel_mt = { __index = {
	take_socket = function(self)
		local st = self.stream
		if st.taken or st.closed then return nil end
		st.taken = true
		return I.socket_adopt(st.id, st.owner)
	end,
} }
Stream.connection = setmetatable({}, { __index = { take_socket = function() return nil end } })

-- take puts what a delivery carried in the stream: body bytes, and at the
-- end the trailers.
local function take(st, out, pos, res, trailers_len)
	local stop = #out - trailers_len
	if stop >= pos then
		local chunk = sub(out, pos, stop)
		if st.buf == "" then st.buf = chunk else st.buf = st.buf .. chunk end
	end
	if res == ECLOSED then
		st.done = true
		if trailers_len > 0 then st.trailers = fields(out, stop + 1) end
	end
end

-- fill waits for more body; it returns true, or nil, err, errno.
local function fill(st, fname, timeout)
	if st.done then return true end
	if st.closed then return nil, "stream closed", errno.EBADF end
	local res, _, out, tl = op(fname, HTTP_READ, st.id, 0, ms(timeout))
	if res ~= OK and res ~= ECLOSED then
		st.done = true -- the exchange is over in Go
		return failure(res, out)
	end
	take(st, out, 1, res, tl)
	return true
end

-- get_headers([timeout]): the next header block: go() took the head, so
-- the trailers, once the body has ended (nil when it has none).
function Stream.get_headers(self, timeout)
	if not self.head_taken then
		self.head_taken = true
		return self.headers
	end
	local dl = deadline(timeout)
	while not self.done do
		local ok, err, en = fill(self, "get_headers", left(dl))
		if not ok then return nil, err, en end
	end
	local t = self.trailers
	self.trailers = nil
	return t
end

-- get_next_chunk([timeout]): the next piece of body; nil at its end.
function Stream.get_next_chunk(self, timeout)
	if self.buf == "" then
		if self.done then return nil end
		local ok, err, en = fill(self, "get_next_chunk", timeout)
		if not ok then return nil, err, en end
		if self.buf == "" then return nil end
	end
	local chunk = self.buf
	self.buf = ""
	return chunk
end

function Stream.each_chunk(self)
	return function()
		local chunk, err = self:get_next_chunk()
		if chunk == nil and err ~= nil then error(err, 2) end
		return chunk
	end
end

-- get_body_as_string([timeout]): the whole body (the rest of it).
function Stream.get_body_as_string(self, timeout)
	if not self.done then
		local dl = deadline(timeout)
		repeat
			local ok, err, en = fill(self, "get_body_as_string", left(dl))
			if not ok then return nil, err, en end
		until self.done
	end
	local body = self.buf
	self.buf = ""
	return body
end

-- get_body_chars(n[, timeout]): n bytes of body, fewer at its end.
function Stream.get_body_chars(self, n, timeout)
	n = tonumber(n)
	if n == nil or n < 0 then error("bad argument #1 to 'get_body_chars' (number expected)", 2) end
	local dl = deadline(timeout)
	while #self.buf < n and not self.done do
		local ok, err, en = fill(self, "get_body_chars", left(dl))
		if not ok then return nil, err, en end
	end
	if #self.buf == 0 and self.done and n > 0 then return nil end
	local chunk = sub(self.buf, 1, n)
	self.buf = sub(self.buf, n + 1)
	return chunk
end

-- get_body_until(pattern, plain, include_pattern[, timeout]): the body
-- up to the first match of pattern (included if include_pattern), or
-- the rest at its end.
function Stream.get_body_until(self, pattern, plain, include_pattern, timeout)
	local dl = deadline(timeout)
	while true do
		local s, e = find(self.buf, pattern, 1, plain)
		if s then
			local chunk = sub(self.buf, 1, include_pattern and e or s - 1)
			self.buf = sub(self.buf, e + 1)
			return chunk
		end
		if self.done then
			if self.buf == "" then return nil end
			local chunk = self.buf
			self.buf = ""
			return chunk
		end
		local ok, err, en = fill(self, "get_body_until", left(dl))
		if not ok then return nil, err, en end
	end
end

-- unget(str) puts str back before the body not yet read.
function Stream.unget(self, str)
	self.buf = tostring(str) .. self.buf
	return true
end

-- shutdown() lets the response go: a connection still carrying its body
-- is closed (HTTP/1) or the stream reset (HTTP/2).
function Stream.shutdown(self)
	if (not self.done or (self.tunnel and not self.taken)) and not self.closed then
		gocall(I.go.http_close, self.id)
	end
	self.closed, self.done, self.buf = true, true, ""
	return true
end

------------------------------------------------------------------------
-- Request objects.

local Request = {}
local request_mt = { __name = "http.request", __index = Request }

local default_port = { http = 80, https = 443 }
local user_agent = "luaedge lua-http/0.4"

local function is_ip6(host) return find(host, ":", 1, true) ~= nil end

-- authority is host[:port] as a URI writes it: the port left out when it
-- is the scheme's own, an IPv6 address in brackets.
local function authority(host, port, scheme)
	if is_ip6(host) then host = "[" .. host .. "]" end
	if port == default_port[scheme] then return host end
	return host .. ":" .. port
end

-- split_uri parses scheme://[userinfo@]host[:port][/path][?query][#frag].
local function split_uri(uri)
	if type(uri) ~= "string" then return nil end
	local scheme, rest = match(uri, "^(%a[%w+.-]*)://(.*)$")
	if not scheme then return nil end
	scheme = lower(scheme)
	local auth, path = match(rest, "^([^/?#]*)(.*)$")
	path = match(path, "^([^#]*)")
	local userinfo, hostport = match(auth, "^(.*)@(.*)$")
	if not userinfo then hostport = auth end
	local host, port = match(hostport, "^%[([^%]]+)%]:?(%d*)$")
	if not host then host, port = match(hostport, "^([^:]*):?(%d*)$") end
	if not host or host == "" then return nil end
	if path == "" then path = "/" elseif byte(path) == 63 then path = "/" .. path end -- "?q" alone
	return scheme, userinfo, lower(host), tonumber(port ~= "" and port or nil), path
end

local b64 = I.b64
local scratch = I.loop.scratch
local function base64(s, mode)
	if b64(scratch, s, #s, mode) ~= 0 then return nil end
	return ffi_string(scratch.p, scratch.len)
end

-- new_request makes a GET request; port is the URI's, if it has one,
-- and auth the authority, if known.
local function new_request(scheme, userinfo, host, port, path, auth)
	if scheme ~= "http" and scheme ~= "https" then
		error("http.request: scheme must be http or https, got " .. tostring(scheme), 3)
	end
	port = port or default_port[scheme]
	local h = setmetatable({ n = 5,
		names = { ":method", ":authority", ":path", ":scheme", "user-agent" },
		values = { "GET", auth or authority(host, port, scheme), path, scheme, user_agent },
		never = { false, false, false, false, false },
	}, headers_mt)
	if userinfo then
		h:append("authorization", "basic " .. base64(userinfo, C.LE_B64_ENC), true)
	end
	return setmetatable({
		host = host, port = port, tls = scheme == "https",
		headers = h,
		follow_redirects = true, max_redirects = 5, expect_100_timeout = 1,
		post301 = false, post302 = false,
		-- luaedge's own: verify = false skips certificate checks;
		-- max_attempts sends an idempotent request again after a failed
		-- connection (Dovecot's sense).
		verify = true, max_attempts = 1,
	}, request_mt)
end

local M = {}

-- URIs new_from_uri parsed, by URI, with their authority: a script asks
-- for the same few again and again. Emptied when it holds 256.
local uris, nuris = {}, 0

-- new_from_uri(uri): a GET of uri.
function M.new_from_uri(uri)
	local u = uris[uri]
	if u == nil then
		local scheme, userinfo, host, port, path = split_uri(uri)
		if not scheme then error("http.request.new_from_uri: invalid URI " .. tostring(uri), 2) end
		local req = new_request(scheme, userinfo, host, port, path)
		if nuris == 256 then uris, nuris = {}, 0 end
		uris[uri], nuris = { scheme, userinfo, host, port, path, req.headers.values[2] }, nuris + 1
		return req
	end
	return new_request(u[1], u[2], u[3], u[4], u[5], u[6])
end

-- new_connect(uri, connect_authority): a CONNECT of connect_authority,
-- sent to the server of uri.
function M.new_connect(uri, connect_authority)
	local scheme, userinfo, host, port = split_uri(uri)
	if not scheme then error("http.request.new_connect: invalid URI " .. tostring(uri), 2) end
	local self = new_request(scheme, nil, host, port, "/")
	local h = self.headers
	h:upsert(":method", "CONNECT")
	h:upsert(":authority", connect_authority)
	h:delete(":path")
	h:delete(":scheme")
	h:delete("authorization")
	if userinfo then
		h:append("proxy-authorization", "basic " .. base64(userinfo, C.LE_B64_ENC), true)
	end
	return self
end

function Request.clone(self)
	local c = {}
	for k, v in pairs(self) do c[k] = v end
	c.headers = self.headers:clone()
	return setmetatable(c, request_mt)
end

-- to_uri([with_userinfo]): the URI the request is for.
function Request.to_uri(self, with_userinfo)
	local h = self.headers
	local method = h:get(":method")
	local scheme = h:get(":scheme") or (self.tls and "https" or "http")
	local auth = h:get(":authority") or authority(self.host, self.port, scheme)
	local path = method == "CONNECT" and "" or (h:get(":path") or "/")
	local userinfo = ""
	if with_userinfo then
		local cred = h:get(method == "CONNECT" and "proxy-authorization" or "authorization")
		local enc = cred and match(cred, "^[Bb][Aa][Ss][Ii][Cc]%s+(%S+)")
		local dec = enc and base64(enc, C.LE_B64_DEC)
		if dec then userinfo = dec .. "@" end
	end
	return scheme .. "://" .. userinfo .. auth .. path
end

-- set_body(body): a string, a function returning the pieces of the body
-- then nil, or a file; nil removes the body. A function or a file is
-- written as go sends the request, a piece at a time (write_body).
function Request.set_body(self, body)
	local h = self.headers
	self.body = body
	if body == nil then
		h:delete("content-length")
		h:delete("expect")
		return true
	end
	local t = type(body)
	if t ~= "string" and t ~= "function" and not (io and io.type(body) == "file") then
		error("bad argument #1 to 'set_body' (string, function or file expected, got " .. t .. ")", 2)
	end
	local length = t == "string" and #body or nil
	if length then
		h:upsert("content-length", tostring(length))
	else
		h:delete("content-length")
	end
	if (not length or length > 1024) and h:get("expect") == nil then
		h:append("expect", "100-continue")
	end
	return true
end

-- pieces returns the iterator of a function or file body: a file is
-- read from its start, FILE_PIECE bytes at a time; its errors are raised.
local FILE_PIECE = 16384
local function pieces(body)
	if type(body) == "function" then return body end
	assert(body:seek("set"))
	return function()
		local piece, err = body:read(FILE_PIECE)
		if piece == nil and err ~= nil then error(err, 0) end
		return piece
	end
end

local function version_of(v)
	if v == nil then return "" end
	if v == 2 or v == "2" or v == 2.0 then return "2" end
	if v == 1.1 or v == "1.1" then return "1.1" end
	error("http.request: version must be nil, 1.1 or 2, got " .. tostring(v), 4)
end

-- spec writes the request as Go reads it (proxy/client_request.go): each
-- netstring in two slots of parts, which concat joins: "LEN:" and the
-- bytes, or the netstring of a number and "". The prefixes of short
-- strings, and the netstrings of the numbers seen (at most 256, then
-- forgotten), are kept: where the JIT does not run, writing a number is
-- slow.
local parts = {}
local prefix = {}
for n = 0, 255 do prefix[n] = n .. ":" end
local function ns(i, s)
	if type(s) ~= "string" then s = tostring(s) end
	local n = #s
	parts[i], parts[i + 1] = prefix[n] or n .. ":", s
	return i + 2
end
local numbers, nnumbers = {}, 0
local function nsn(i, v)
	if type(v) ~= "number" or v ~= v then return ns(i, v) end
	local s = numbers[v]
	if s == nil then
		s = tostring(v)
		s = #s .. ":" .. s
		if nnumbers == 256 then numbers, nnumbers = {}, 0 end
		numbers[v], nnumbers = s, nnumbers + 1
	end
	parts[i], parts[i + 1] = s, ""
	return i + 2
end

-- first is h:get(name) for a name in lower case: its first value.
local function first(h, name)
	local names = h.names
	for k = 1, h.n do
		if names[k] == name then return h.values[k] end
	end
end

-- spec's arguments: body, a string or nil (streamed: a function or file
-- body the script writes after the head); proxy, nil or proxy_of's
-- parts. Through an http or https proxy, an https request goes through a
-- tunnel the proxy opens (Go sends the CONNECT), a clear one is sent to
-- the proxy itself, its target a whole URI, as lua-http does; through a
-- SOCKS5 proxy, any request goes through its tunnel.
local function spec(self, body, streamed, proxy)
	local h = self.headers
	local method = first(h, ":method") or "GET"
	local scheme = self.tls and "https" or "http"
	local sendname = self.sendname
	local host, port, path, version = self.host, self.port, first(h, ":path") or "/", version_of(self.version)
	if method == "CONNECT" or h:has("upgrade") then
		if version == "2" then error("http.request: a CONNECT or an Upgrade is sent over HTTP/1.1", 4) end
		version = "1.1" -- its tunnel is the connection (take_socket)
	end
	local pscheme, phost, pport, pauth, puser, ppass, fwd_auth = "", "", 0, "", "", "", nil
	if proxy then
		pscheme, phost, pport = proxy[1], proxy[3], proxy[4]
		local userinfo = proxy[2]
		if pscheme == "socks5" or pscheme == "socks5h" then
			if userinfo then
				local user, pass = match(userinfo, "^([^:]*):(.*)$")
				if user == nil then error("http.request: invalid username/password format in the SOCKS proxy URI", 4) end
				puser, ppass = I.http_util.decodeURIComponent(user), I.http_util.decodeURIComponent(pass)
			end
		elseif scheme == "https" then
			pauth = userinfo and "basic " .. base64(userinfo, C.LE_B64_ENC) or ""
		else
			if method == "CONNECT" then error("http.request: a CONNECT request cannot go through an HTTP proxy", 4) end
			path = self:to_uri(false)
			version = "1.1"
			fwd_auth = userinfo and "basic " .. base64(userinfo, C.LE_B64_ENC)
		end
	end
	local i = 1
	i = ns(i, method)
	i = ns(i, scheme)
	i = ns(i, host)
	i = nsn(i, port)
	i = ns(i, first(h, ":authority") or authority(self.host, self.port, scheme))
	i = ns(i, method == "CONNECT" and "" or path)
	i = ns(i, version)
	i = ns(i, self.verify == false and "0" or "1")
	i = ns(i, type(sendname) == "string" and sendname or "")
	i = ns(i, sendname == false and "1" or "0")
	i = nsn(i, floor((tonumber(self.expect_100_timeout) or 0) * 1000))
	i = nsn(i, tonumber(self.max_attempts) or 1)
	i = ns(i, pscheme)
	i = ns(i, phost)
	i = nsn(i, pport)
	i = ns(i, pauth)
	i = ns(i, puser)
	i = ns(i, ppass)
	i = ns(i, streamed and "1" or "0")
	-- The fields, without the pseudo-headers (the arrays of http.headers).
	local names, values, n = h.names, h.values, 0
	local at = i
	i = i + 2
	for k = 1, h.n do
		if byte(names[k]) ~= 58 then -- ":"
			i = ns(i, names[k])
			i = ns(i, values[k])
			n = n + 1
		end
	end
	if fwd_auth then
		i = ns(i, "proxy-authorization")
		i = ns(i, fwd_auth)
		n = n + 1
	end
	nsn(at, n)
	if body then parts[i] = body; i = i + 1 end
	local out = concat(parts, "", 1, i - 1)
	clear(parts)
	return out
end

-- proxy_of returns the proxy self goes through, as split_uri's parts
-- (its port given), or nil: request.proxy (a URI, or false for none),
-- else the choice of request.proxies when a script set one. Nothing is
-- read from the environment (lua-http's default proxies object reads
-- http_proxy).
local proxy_port = { http = 80, https = 443, socks5 = 1080, socks5h = 1080 }
local function proxy_of(self)
	local proxy = self.proxy
	if proxy == nil and self.proxies ~= nil then
		proxy = self.proxies:choose(self.tls and "https" or "http", self.host)
	end
	if not proxy then return nil end
	local scheme, userinfo, host, port = split_uri(proxy)
	if not proxy_port[scheme] then
		error("http.request: unsupported proxy " .. tostring(proxy) .. " (http, https, socks5 or socks5h expected)", 4)
	end
	return { scheme, userinfo, host, port or proxy_port[scheme] }
end

-- write_body writes a function or file body piece by piece, each once
-- the connection takes more, then waits for the head; it returns what
-- the last operation did (op's results). An error of the body's is
-- raised, its exchange let go.
local function write_body(id, body, dl)
	local next_piece = pieces(body)
	while true do
		local ok, piece = pcall(next_piece)
		if not ok then
			gocall(I.go.http_close, id)
			error(piece, 0)
		end
		if piece ~= nil and type(piece) ~= "string" then piece = tostring(piece) end
		if piece ~= "" then
			local res, _, out, tl = op("go", HTTP_WRITE, id, piece == nil and 1 or 0, ms(left(dl)), piece)
			-- Go wants more (sock_arg -1), or the answer came.
			if res ~= OK or tl ~= -1 then return res, id, out, tl end
		end
	end
end

-- send performs one exchange (no redirect): the response head and stream.
local function send(self, timeout)
	if self.ctx ~= nil then
		error("http.request: request.ctx is not supported (no OpenSSL contexts): use verify, sendname and http_client.ca_file", 3)
	end
	local proxy = (self.proxy ~= nil or self.proxies ~= nil) and proxy_of(self) or nil
	local body = self.body
	local streamed = body ~= nil and type(body) ~= "string"
	local dl = streamed and deadline(timeout)
	local res, id, out, tl = op("go", HTTP, 0, 0, ms(timeout), spec(self, not streamed and body or nil, streamed, proxy))
	if res == OK and tl == -1 then res, id, out, tl = write_body(id, body, dl or nil) end
	if res ~= OK and res ~= ECLOSED then return failure(res, out) end
	-- "STATUS VERSION REASON\n", then the fields.
	local a = find(out, " ", 1, true)
	local b = find(out, " ", a + 1, true)
	local c = find(out, "\n", b + 1, true)
	local version = sub(out, a + 1, b - 1)
	local h, pos = fields(out, c + 1, sub(out, 1, a - 1))
	-- reason: the server's phrase ("" from HTTP/2), which lua-http's
	-- streams do not show; core.httpclient returns it, as HAProxy's.
	local st = setmetatable({ id = id, headers = h, head_taken = true, buf = "", done = false, closed = false,
		peer_version = tonumber(version), reason = sub(out, b + 1, c - 1) }, stream_mt)
	take(st, out, pos, res, tl)
	-- A CONNECT's 2xx, or a 101 to an Upgrade: Go made the connection
	-- a socket.
	local status = h.values[1]
	if first(self.headers, ":method") == "CONNECT" and byte(status) == 50 or status == "101" and self.headers:has("upgrade") then
		st.tunnel, st.owner = true, I.current()
		st.connection = setmetatable({ stream = st }, tunnel_mt)
		watch(st)
	elseif not st.done then
		watch(st)
	end
	return h, st
end

local redirect = { ["301"] = true, ["302"] = true, ["303"] = true, ["307"] = true, ["308"] = true }

-- redirects reports whether req follows the response head h (whose first
-- field is :status, as send makes it) elsewhere.
local function redirects(req, h)
	return req.follow_redirects and redirect[h.values[1]] and h:has("location")
end

-- follow follows the redirects from the head h and stream st of req's
-- response until dl, the deadline of go.
local function follow(req, h, st, dl)
	repeat
		local new, err, en = req:handle_redirect(h)
		-- A short body is read so that the connection is reused.
		local length = tonumber(h:get("content-length") or "")
		if length and length <= 65536 then st:get_body_as_string(left(dl)) end
		st:shutdown()
		if new == nil then return nil, err, en end
		req = new
		h, st, en = send(req, left(dl))
		if h == nil then return nil, st, en end
	until not redirects(req, h)
	return h, st
end

-- go([timeout]): sends the request, following redirects as asked; the
-- response head and its stream. The timeout covers all of it up to the
-- last response's head. (The loop of redirects is apart: the JIT compiles
-- no trace through a loop that runs once.)
function Request.go(self, timeout)
	local dl = deadline(timeout)
	local h, st, en = send(self, timeout)
	if h == nil then return nil, st, en end
	if redirects(self, h) then return follow(self, h, st, dl) end
	return h, st
end

-- resolve_path resolves a relative reference's path against base's
-- (RFC 3986 section 5.2).
local function resolve_path(base, ref)
	if byte(ref) ~= 47 then -- not "/": relative to base's folder
		ref = match(base, "^(.*/)") .. ref
	end
	local out = {}
	for seg in ref:gmatch("([^/]*)") do
		if seg == ".." then
			if #out > 1 then out[#out] = nil end
		elseif seg ~= "." then
			out[#out + 1] = seg
		end
	end
	local p = concat(out, "/")
	if byte(p) ~= 47 then p = "/" .. p end
	local last = match(ref, "([^/]*)$")
	if (last == "." or last == "..") and sub(p, -1) ~= "/" then p = p .. "/" end
	return p
end

-- handle_redirect(headers): the request that follows the redirect these
-- response headers make.
function Request.handle_redirect(self, orig_headers)
	local max = self.max_redirects
	if max ~= nil and max <= 0 then
		return nil, "maximum redirects exceeded", errno.ELOOP
	end
	local location = orig_headers:get("location")
	if location == nil then
		return nil, "missing location header for redirect", errno.EINVAL
	end
	local new = self:clone()
	if max ~= nil then new.max_redirects = max - 1 end
	local h = new.headers
	local cur_scheme = self.tls and "https" or "http"
	local scheme, userinfo, host, port, path = split_uri(location)
	if scheme == nil and sub(location, 1, 2) == "//" then
		scheme, userinfo, host, port, path = split_uri(cur_scheme .. ":" .. location)
	end
	if scheme then
		if scheme ~= "http" and scheme ~= "https" then
			return nil, "unsupported scheme in redirect: " .. scheme, errno.EINVAL
		end
		port = port or default_port[scheme]
		if host ~= self.host or port ~= self.port or scheme ~= cur_scheme then
			-- Credentials are for the origin they were given to.
			h:delete("authorization")
			h:delete("cookie")
		end
		new.host, new.port, new.tls = host, port, scheme == "https"
		h:upsert(":authority", authority(host, port, scheme))
		h:upsert(":scheme", scheme)
		if userinfo then h:upsert("authorization", "basic " .. base64(userinfo, C.LE_B64_ENC), true) end
	else
		local frag = find(location, "#", 1, true)
		if frag then location = sub(location, 1, frag - 1) end
		local cur = h:get(":path") or "/"
		if byte(location) == 63 then -- "?query"
			path = match(cur, "^([^?]*)") .. location
		else
			local p, q = match(location, "^([^?]*)(.*)$")
			path = resolve_path(match(cur, "^([^?]*)"), p) .. q
		end
	end
	h:upsert(":path", path)
	local status = orig_headers:get(":status")
	local method = h:get(":method")
	if status == "303" or (method == "POST" and ((status == "301" and not self.post301) or (status == "302" and not self.post302))) then
		if method ~= "HEAD" then h:upsert(":method", "GET") end
		new:set_body(nil)
		h:delete("content-type")
	end
	if not (self.tls and not new.tls) then
		h:upsert("referer", self:to_uri(false))
	else
		h:delete("referer")
	end
	return new
end

package.preload["http.request"] = function() return M end
I.http_request = M

------------------------------------------------------------------------
-- core.resolve(name[, timeout]): name's addresses (IPv4 first), as a
-- sequence of strings, from the loop's DNS cache or its DNS servers.

function core.resolve(name, timeout)
	if type(name) ~= "string" then
		error("bad argument #1 to 'core.resolve' (string expected, got " .. type(name) .. ")", 2)
	end
	local res, _, out = op("core.resolve", RESOLVE, 0, 0, ms(timeout), name)
	if res ~= OK then return failure(res, out) end
	local addrs = {}
	for a in out:gmatch("%S+") do addrs[#addrs + 1] = a end
	return addrs
end

-- cqueues.errno, as far as lua-http's callers compare with it: the errno
-- values this client returns, and strerror.
local errno_mod = {}
local messages = {
	[9] = "Bad file descriptor", [13] = "Permission denied", [22] = "Invalid argument",
	[40] = "Too many levels of symbolic links", [71] = "Protocol error",
	[84] = "Invalid or incomplete multibyte or wide character", [90] = "Message too long",
	[95] = "Operation not supported", [97] = "Address family not supported by protocol",
	[101] = "Network is unreachable", [104] = "Connection reset by peer",
	[110] = "Connection timed out", [111] = "Connection refused", [113] = "No route to host",
}
for k, v in pairs(errno) do errno_mod[k], errno_mod[v] = v, k end
function errno_mod.strerror(n) return messages[n] or ("errno " .. tostring(n)) end
package.preload["cqueues.errno"] = function() return errno_mod end
