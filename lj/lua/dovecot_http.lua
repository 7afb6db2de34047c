-- dovecot.http: Dovecot lib-lua's HTTP client (dovecot.http.client,
-- http_request, http_response), a compatibility module for scripts ported
-- from Dovecot, thin over http.request (http_request.lua). As in Dovecot,
-- timeouts are in milliseconds, and a request that got no response still
-- returns one, whose status is one of Dovecot's internal error codes
-- (9000 and up) with the reason as its reason.
-- Reference: Dovecot lib-lua, dovecot.http.
local I = ...
setfenv(1, I.env)

local type, tostring, tonumber, error, setmetatable, pairs = type, tostring, tonumber, error, setmetatable, pairs
local lower = string.lower
local request_mod = I.http_request

-- Dovecot's http_client_request_error codes.
local ERR_INVALID_URL, ERR_HOST_LOOKUP, ERR_CONNECT, ERR_REDIRECT = 9001, 9002, 9003, 9004
local ERR_CONNECTION_LOST, ERR_BROKEN_PAYLOAD, ERR_BAD_RESPONSE, ERR_TIMED_OUT = 9005, 9006, 9007, 9008
local by_errno = {
	[110] = ERR_TIMED_OUT, [113] = ERR_HOST_LOOKUP, [111] = ERR_CONNECT, [104] = ERR_CONNECTION_LOST,
	[71] = ERR_BAD_RESPONSE, [90] = ERR_BROKEN_PAYLOAD, [22] = ERR_INVALID_URL, [40] = ERR_REDIRECT,
}

local Client, Req, Resp = {}, {}, {}
local client_mt = { __name = "http_client", __index = Client }
local req_mt = { __name = "http_request", __index = Req }
local resp_mt = { __name = "http_response", __index = Resp }

local function opt_number(t, k)
	local v = t[k]
	if v ~= nil and tonumber(v) == nil then
		error("dovecot.http.client: " .. k .. " must be a number", 3)
	end
	return tonumber(v)
end

-- dovecot.http.client{timeout (ms), max_attempts, debug, request_max_redirects,
-- user_agent}
local function client(opts)
	opts = opts or {}
	if type(opts) ~= "table" then error("dovecot.http.client: a table of settings expected", 2) end
	return setmetatable({
		timeout = opt_number(opts, "timeout"),
		max_attempts = opt_number(opts, "max_attempts") or 1,
		max_redirects = opt_number(opts, "request_max_redirects") or 0,
		user_agent = opts.user_agent,
		debug = opts.debug and true or false,
	}, client_mt)
end

-- client:request{url, method}
function Client.request(self, t)
	if getmetatable(self) ~= client_mt then error("http_client:request: call it as client:request{...}", 2) end
	if type(t) ~= "table" or type(t.url) ~= "string" then
		error("http_client:request: a table with url expected", 2)
	end
	return setmetatable({ client = self, url = t.url, method = t.method or "GET", fields = {}, payload = nil }, req_mt)
end

function Req.add_header(self, name, value)
	self.fields[#self.fields + 1] = { tostring(name), tostring(value) }
end

function Req.remove_header(self, name)
	name = lower(tostring(name))
	local kept = {}
	for _, f in pairs(self.fields) do
		if lower(f[1]) ~= name then kept[#kept + 1] = f end
	end
	self.fields = kept
end

function Req.set_payload(self, payload)
	self.payload = tostring(payload)
end

local function failed(code, reason)
	return setmetatable({ code = code, reason_text = reason, fields = nil, body = "" }, resp_mt)
end

-- req:submit(): sends the request and reads the whole response; a
-- failure is a response with a 9000-range status.
function Req.submit(self)
	local cl = self.client
	local ok, r = pcall(request_mod.new_from_uri, self.url)
	if not ok then return failed(ERR_INVALID_URL, "invalid URL " .. tostring(self.url)) end
	r.follow_redirects = cl.max_redirects > 0
	r.max_redirects = cl.max_redirects
	r.max_attempts = cl.max_attempts
	local h = r.headers
	h:upsert(":method", self.method)
	if cl.user_agent then h:upsert("user-agent", cl.user_agent) end
	for _, f in pairs(self.fields) do h:append(f[1], f[2]) end
	if self.payload then
		r:set_body(self.payload)
		h:delete("expect")
	end
	local timeout = cl.timeout and cl.timeout / 1000 or nil
	local deadline = timeout and I.mono_us() + timeout * 1e6
	local head, st, en = r:go(timeout)
	local resp
	if head == nil then
		resp = failed(by_errno[en] or ERR_CONNECT, st)
	else
		local rest = deadline and math.max(0, (deadline - I.mono_us()) / 1e6) or nil
		local body, err, en2 = st:get_body_as_string(rest)
		if body == nil then
			resp = failed(by_errno[en2] or ERR_CONNECTION_LOST, err)
		else
			resp = setmetatable({ code = tonumber(head:get(":status")), fields = head, body = body }, resp_mt)
		end
	end
	if cl.debug then
		core.Info("http-client: " .. self.method .. " " .. self.url .. ": " .. resp.code .. " " .. resp:reason())
	end
	return resp
end

function Resp.status(self) return self.code end

-- The reason phrases of the usual statuses (RFC 9110), for a response:
-- http.request's head carries no reason phrase.
local reasons = {
	[200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
	[301] = "Moved Permanently", [302] = "Found", [303] = "See Other", [304] = "Not Modified",
	[307] = "Temporary Redirect", [308] = "Permanent Redirect",
	[400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
	[405] = "Method Not Allowed", [409] = "Conflict", [429] = "Too Many Requests",
	[500] = "Internal Server Error", [502] = "Bad Gateway", [503] = "Service Unavailable", [504] = "Gateway Timeout",
}

function Resp.reason(self)
	return self.reason_text or reasons[self.code] or ""
end

function Resp.header(self, name)
	if self.fields == nil then return nil end
	return self.fields:get_comma_separated(lower(tostring(name)))
end

function Resp.payload(self) return self.body end

local dovecot = rawget(_G, "dovecot") or {}
dovecot.http = { client = client }
_G.dovecot = dovecot
