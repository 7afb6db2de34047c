-- core.httpclient(): HAProxy's HTTPClient class (2.5 and later), thin over
-- http.request (http_request.lua), with HAProxy 2.6's semantics: one call
-- per method (get, head, put, post, delete) taking a table {url, headers,
-- body, dst, timeout}, waiting for the whole response and returning it as
-- a table {status, reason, headers, body}, headers as name -> {[0] = v,
-- [1] = ...} with names in lower case. A request that gets no response
-- still gets one, HAProxy's own error answer (503 when the server cannot
-- be reached, 504 on a timeout, 502 for an invalid response), as HAProxy's
-- client does. Reference: HAProxy's Lua API, HTTPClient class.
local I = ...
setfenv(1, I.env)

local type, tostring, tonumber, error, setmetatable, getmetatable, pairs = type, tostring, tonumber, error, setmetatable, getmetatable, pairs
local lower, match, concat = string.lower, string.match, table.concat
local request_mod = I.http_request

local HTTPClient = {}
local client_mt = { __name = "HTTPClient", __index = HTTPClient }

-- core.httpclient() returns a client; each call of its methods is one
-- request (a client may make several, one after the other).
function core.httpclient()
	return setmetatable({}, client_mt)
end

-- HAProxy's error answers the client returns when no response came.
local pages = {
	[502] = { "Bad Gateway", "The server returned an invalid or incomplete response." },
	[503] = { "Service Unavailable", "No server is available to handle this request." },
	[504] = { "Gateway Time-out", "The server didn't respond in time." },
}
-- by_errno: the error answer for an errno of http.request's (timeout,
-- reset, protocol error); anything else is "no server" (503).
local by_errno = { [110] = 504, [104] = 502, [71] = 502 }

local function page(status)
	local p = pages[status]
	local body = "<html><body><h1>" .. status .. " " .. p[1] .. "</h1>\n" .. p[2] .. "\n</body></html>\n"
	return {
		status = status, reason = p[1], body = body,
		headers = {
			["content-length"] = { [0] = tostring(#body) },
			["cache-control"] = { [0] = "no-cache" },
			["content-type"] = { [0] = "text/html" },
		},
	}
end

-- dst_of parses HAProxy's address form of dst: [ipv4@|ipv6@]addr[:port];
-- it returns the host and the port (nil: the URL's).
local function dst_of(dst)
	if type(dst) ~= "string" then return nil end
	local family, rest = match(dst, "^(%w+)@(.*)$")
	if family == "unix" or family == "abns" then
		return nil, "httpclient: luaedge does not connect to " .. family .. "@ addresses (dst)"
	end
	if family and family ~= "ipv4" and family ~= "ipv6" and family ~= "tcp" and family ~= "tcp4" and family ~= "tcp6" then
		return nil
	end
	rest = rest or dst
	local host, port = match(rest, "^%[([^%]]+)%]:?(%d*)$")
	if not host then
		host, port = match(rest, "^([^:]+):(%d*)$")
		if not host then host, port = match(rest, "^(.+)$"), "" end
	end
	if host == nil or host == "" then return nil end
	return host, tonumber(port)
end

-- params reads the parameters of a request, checked as HAProxy checks
-- them: the parameters, or nil and HAProxy's message.
local function params(t)
	local p = {}
	for k, v in pairs(t) do
		local key = tostring(k)
		if key == "url" then
			if type(v) ~= "string" then return nil, "invalid parameter in 'url', must be a string" end
			p.url = v
		elseif key == "dst" then
			p.host, p.port = dst_of(v)
			if p.host == nil then return nil, p.port or "Can't use the 'dst' argument" end
		elseif key == "timeout" then
			if type(v) ~= "number" then return nil, "invalid parameter in 'timeout', must be a number" end
			p.timeout = v
		elseif key == "headers" then
			if type(v) ~= "table" then return nil, "invalid parameter in 'headers', must be a table" end
			p.headers = v
		elseif key == "body" then
			if type(v) ~= "string" then return nil, "invalid parameter in 'body', must be a string" end
			p.body = v
		else
			return nil, "'" .. key .. "' invalid parameter name"
		end
	end
	if p.url == nil then return nil, "'get' need a 'url' argument" end
	return p
end

-- build makes the http.request of p for method: the fields as given
-- (values that are not lists, and values that are not strings, left
-- out), then host, accept and user-agent unless given, as HAProxy's.
local function build(method, p)
	local ok, r = pcall(request_mod.new_from_uri, p.url)
	if not ok then return nil, "Can't generate the HTTP request" end
	r.follow_redirects = false
	-- HAProxy 2.6's client speaks HTTP/1.1 only (no ALPN): the server's
	-- reason phrase is always there.
	r.version = 1.1
	local h = r.headers
	h:upsert(":method", method)
	h:delete("user-agent")
	local given = {}
	for name, values in pairs(p.headers or {}) do
		local tn = type(name)
		if (tn == "string" or tn == "number") and type(values) == "table" then
			name = tostring(name)
			local lname = lower(name)
			for _, v in pairs(values) do
				local tv = type(v)
				if tv == "string" or tv == "number" then
					if lname == "host" then
						h:upsert(":authority", tostring(v))
					else
						h:append(lname, tostring(v))
					end
					given[lname] = true
				end
			end
		end
	end
	if not given.accept then h:append("accept", "*/*") end
	if not given["user-agent"] then h:append("user-agent", "HAProxy") end
	if p.body then
		-- As HAProxy's client: the body goes chunked, without a
		-- content-length (a streamed body), and without expect.
		local body = p.body
		r:set_body(function()
			local b = body
			body = nil
			return b
		end)
		h:delete("expect")
	end
	if p.host then
		-- dst: the connection goes there; the URL still names the host
		-- (Host, and the TLS server name).
		r.sendname = r.sendname or r.host
		r.host = p.host
		if p.port then r.port = p.port end
	end
	return r
end

-- persistence drops the close and keep-alive options of a connection
-- field, and the field (nil) when nothing else is left, as HAProxy's
-- HTTP/1 parser does with the server's head.
local function persistence(value)
	local keep = {}
	for opt in string.gmatch(value, "[^,]+") do
		opt = match(opt, "^%s*(.-)%s*$")
		local l = lower(opt)
		if l ~= "" and l ~= "close" and l ~= "keep-alive" then keep[#keep + 1] = opt end
	end
	if #keep == 0 then return nil end
	return concat(keep, ", ")
end

-- response reads the whole response of head and stream st, until dl (a
-- mono_us deadline, or nil); a body cut short is returned as it came.
local function response(method, head, st, dl)
	local status = tonumber(head:get(":status"))
	local headers = {}
	for name, value in head:each() do
		if name == "connection" then value = persistence(value) end
		if name ~= ":status" and value ~= nil then
			local vs = headers[name]
			if vs == nil then
				headers[name] = { [0] = value }
			else
				vs[#vs + 1] = value
			end
		end
	end
	local parts = {}
	if method ~= "HEAD" then
		while true do
			local left = dl and math.max(0, (dl - I.mono_us()) / 1e6) or nil
			local chunk = st:get_next_chunk(left)
			if chunk == nil then break end
			parts[#parts + 1] = chunk
		end
	end
	st:shutdown()
	return { status = status, reason = st.reason, headers = headers, body = concat(parts) }
end

-- send makes one request; extra counts the arguments past the table. Its
-- errors name the script's line, as HAProxy's do (level 3: send, the
-- method, the script).
local function send(method, self, t, extra)
	if getmetatable(self) ~= client_mt then
		error("bad argument #1 to '" .. lower(method) .. "' (HTTPClient expected)", 3)
	end
	if extra ~= 0 or type(t) ~= "table" then error("'get' needs a table as argument", 3) end
	if I.current() == nil then
		error("The 'get' function is only allowed in 'frontend', 'backend' or 'task'", 3)
	end
	local p, err = params(t)
	if p == nil then error(err, 3) end
	local r
	r, err = build(method, p)
	if r == nil then error(err, 3) end
	-- timeout: HAProxy's "timeout server" for the exchange, in ms.
	local timeout = p.timeout and p.timeout > 0 and p.timeout / 1000 or nil
	local dl = timeout and I.mono_us() + timeout * 1e6
	local head, st, en = r:go(timeout)
	if head == nil then return page(by_errno[en] or 503) end
	return response(method, head, st, dl)
end

-- hc:get{...}: exactly one argument after the client, a table. (No tail
-- calls: send's errors count the method's frame.)
function HTTPClient.get(self, t, ...) local r = send("GET", self, t, select("#", ...)) return r end
function HTTPClient.head(self, t, ...) local r = send("HEAD", self, t, select("#", ...)) return r end
function HTTPClient.put(self, t, ...) local r = send("PUT", self, t, select("#", ...)) return r end
function HTTPClient.post(self, t, ...) local r = send("POST", self, t, select("#", ...)) return r end
function HTTPClient.delete(self, t, ...) local r = send("DELETE", self, t, select("#", ...)) return r end
