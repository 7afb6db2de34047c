-- http.cookie: parsing and baking cookies (RFC 6265), and a cookie store
-- for clients. Reference: lua-http, module http.cookie.
-- lua-http parses with LPeg grammars; the same grammars are written here
-- as scans over the string. Differences: no public suffix list (lua-http
-- uses lua-psl when installed; store.psl is nil unless a script sets an
-- object with is_public_suffix), and an Expires date is read as UTC
-- (lua-http reads it as the machine's local time).
local I = ...
setfenv(1, I.env)

local type, tostring, tonumber, pairs, next, error, assert, setmetatable = type, tostring, tonumber, pairs, next, error, assert, setmetatable
local byte, find, format, lower, match, sub = string.byte, string.find, string.format, string.lower, string.match, string.sub
local concat, sort = table.concat, table.sort
local huge, max, min, floor = math.huge, math.max, math.min, math.floor
local util = I.http_util
local class = I.byte_class

local M = {}

-- bake returns a Set-Cookie value. expiry_time: nil or math.huge for a
-- session cookie, -math.huge to delete it (Max-Age=0), else a time.
function M.bake(name, value, expiry_time, domain, path, secure_only, http_only, same_site)
	local parts = { name, "=", value }
	if expiry_time ~= nil and expiry_time ~= huge then
		if expiry_time == -huge then
			parts[#parts + 1] = "; Max-Age=0"
		else
			parts[#parts + 1] = "; Expires=" .. util.imf_date(expiry_time)
		end
	end
	if domain then parts[#parts + 1] = "; Domain=" .. domain end
	if path then parts[#parts + 1] = "; Path=" .. util.encodeURI(path) end
	if secure_only then parts[#parts + 1] = "; Secure" end
	if http_only then parts[#parts + 1] = "; HttpOnly" end
	if same_site then
		if same_site == "strict" then
			parts[#parts + 1] = "; SameSite=Strict"
		elseif same_site == "lax" then
			parts[#parts + 1] = "; SameSite=Lax"
		else
			error('invalid value for same_site, expected "strict" or "lax"', 2)
		end
	end
	return concat(parts)
end

-- The grammar of RFC 6265 section 4.1.1, as lua-http reads it: a cookie
-- pair is a token, "=" and a cookie value (bare or in double quotes),
-- with optional blanks around "=" and after the value.
local token = "^" .. I.token_class .. "+"
local octets = class(function(b)
	return b == 0x21 or (b >= 0x23 and b <= 0x2B) or (b >= 0x2D and b <= 0x3A) or (b >= 0x3C and b <= 0x5B) or (b >= 0x5D and b <= 0x7E)
end)
local bare_value = "^" .. octets .. "*"
local quoted_value = '^"(' .. octets .. '*)"'

-- pair reads a cookie pair at i: name, value and the index after it.
local function pair(s, i)
	local name = match(s, token, i)
	if name == nil then return nil end
	i = i + #name
	local eq = match(s, "^[ \t]*=[ \t]*", i)
	if eq == nil then return nil end
	i = i + #eq
	local value = match(s, quoted_value, i)
	if value ~= nil then
		i = i + #value + 2
	else
		value = match(s, bare_value, i)
		i = i + #value
	end
	return name, value, i + #match(s, "^[ \t]*", i)
end

-- parse_cookie reads a Cookie field: a table of names to values (the last
-- of a repeated name), or nil when the field does not parse.
function M.parse_cookie(s)
	local cookies, i = {}, 1
	while true do
		local name, value
		name, value, i = pair(s, i)
		if name == nil then return nil end
		cookies[name] = value
		if i > #s then return cookies end
		if sub(s, i, i) ~= ";" then return nil end
		i = i + 1 + #match(s, "^[ \t]*", i + 1)
	end
end

function M.parse_cookies(headers)
	local fields = headers:get_as_sequence("cookie")
	local cookies = {}
	for k = 1, fields.n do
		local got = M.parse_cookie(fields[k])
		if got then
			for name, value in pairs(got) do cookies[name] = value end
		end
	end
	return cookies
end

-- An attribute's characters: visible ASCII and blanks but ";"; a blank
-- counts only when more such characters follow it (no trailing blanks).
local function av_char(s, i)
	local b = byte(s, i)
	if b == nil or b == 59 then return false end
	if b == 32 or b == 9 then
		local j = find(s, "[^ \t]", i)
		return j ~= nil and av_char(s, j)
	end
	return b > 32 and b < 127
end

-- attribute reads a Set-Cookie attribute at i: its name (lower-case), its
-- value (true when it has no "=") and the index after it.
local function attribute(s, i)
	-- "name = value": the name's inner blanks are kept, those before "="
	-- are not.
	local j = i
	while true do
		local b = byte(s, j)
		if b == 32 or b == 9 then
			local k = find(s, "[^ \t]", j)
			if k == nil or sub(s, k, k) == "=" then break end
			j = k
		elseif b ~= nil and b ~= 61 and av_char(s, j) then
			j = j + 1
		else
			break
		end
	end
	local eq = match(s, "^[ \t]*=[ \t]*", j)
	if eq ~= nil then
		local k = j + #eq
		local e = k
		while av_char(s, e) do e = e + 1 end
		return lower(sub(s, i, j - 1)), sub(s, k, e - 1), e
	end
	local e = i
	while av_char(s, e) do e = e + 1 end
	return lower(sub(s, i, e - 1)), true, e
end

-- parse_setcookie reads a Set-Cookie field: name, value and a table of
-- its attributes (lower-case names; true for those without a value), or
-- nil when it does not parse.
function M.parse_setcookie(s)
	local name, value, i = pair(s, 1)
	if name == nil then return nil end
	local params = {}
	while i <= #s do
		if sub(s, i, i) ~= ";" then return nil end
		i = i + 1 + #match(s, "^[ \t]*", i + 1)
		local k, v
		k, v, i = attribute(s, i)
		params[k] = v
	end
	return name, value, params
end

-- The cookie store: what a client keeps of the cookies servers set
-- (RFC 6265 section 5.3, with RFC 6265bis's SameSite and name prefixes).
-- cookies[domain][path][name] is a cookie; next_due is no later than the
-- first expiry, so clean scans only when one may be due.
local Store = {
	time = function() return os.time() end,
	max_cookie_length = huge,
	max_cookies = huge,
	max_cookies_per_domain = huge,
}
local store_mt = { __name = "http.cookie.store", __index = Store }

function M.new_store()
	return setmetatable({ domains = {}, n_cookies = 0, n_cookies_per_domain = {}, next_due = huge }, store_mt)
end

-- canonical lower-cases a host; nil for one with characters other than
-- ASCII letters, digits and punctuation.
local function canonical(host)
	if find(host, "[^%p%w]") then return nil end
	return lower(host)
end

-- domain_match: RFC 6265 section 5.1.3.
local function domain_match(domain, host)
	if host == domain then return true end
	local n = #domain
	return n < #host and sub(host, -n) == domain and sub(host, -n - 1, -n - 1) == "." and not util.is_ip(host)
end

-- path_match: RFC 6265 section 5.1.4.
local function path_match(path, req_path)
	if path == req_path then return true end
	if sub(req_path, 1, #path) ~= path then return false end
	return sub(path, -1) == "/" or sub(req_path, #path + 1, #path + 1) == "/"
end

local months = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }
local days = { Mon = true, Tue = true, Wed = true, Thu = true, Fri = true, Sat = true, Sun = true }

-- imf_time reads an IMF-fixdate as seconds since the epoch, or nil.
local function imf_time(s)
	local wd, d, mon, y, h, mi, sec = match(s, "^(%a%a%a), (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
	if wd == nil or not days[wd] or months[mon] == nil then return nil end
	local m = months[mon]
	y, d = tonumber(y), tonumber(d)
	-- Days from the civil date (proleptic Gregorian), March-based years.
	if m <= 2 then y = y - 1 end
	local era = floor(y / 400)
	local yoe = y - era * 400
	local mp = (m + 9) % 12
	local doy = floor((153 * mp + 2) / 5) + d - 1
	local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
	local epoch_days = era * 146097 + doe - 719468
	return epoch_days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

-- unlink removes a cookie from the store's tables and counts.
local function unlink(self, c)
	local by_path = self.domains[c.domain]
	local by_name = by_path and by_path[c.path]
	if by_name == nil or by_name[c.name] ~= c then return end
	by_name[c.name] = nil
	self.n_cookies = self.n_cookies - 1
	if next(by_name) == nil then
		by_path[c.path] = nil
		if next(by_path) == nil then
			self.domains[c.domain] = nil
			self.n_cookies_per_domain[c.domain] = nil
			return
		end
	end
	self.n_cookies_per_domain[c.domain] = self.n_cookies_per_domain[c.domain] - 1
end

local function each_cookie(self, fn)
	for _, by_path in pairs(self.domains) do
		for _, by_name in pairs(by_path) do
			for _, c in pairs(by_name) do fn(c) end
		end
	end
end

-- add puts cookie c in the store (RFC 6265 section 5.3, steps 11 and 12).
local function add(self, c, from_http, now)
	if c.expiry_time < now then
		self:remove(c.domain, c.path, c.name)
		return true
	end
	if #c.name + 1 + #c.value > self.max_cookie_length then return false end
	local by_path = self.domains[c.domain]
	local by_name = by_path and by_path[c.path]
	local old = by_name and by_name[c.name]
	if old then
		if not from_http and old.http_only then return false end
		c.creation_time = old.creation_time
		by_name[c.name] = c
	else
		if self.n_cookies >= self.max_cookies then return false end
		if (self.n_cookies_per_domain[c.domain] or 0) >= self.max_cookies_per_domain then return false end
		if by_path == nil then
			by_path = {}
			self.domains[c.domain] = by_path
		end
		if by_name == nil then
			by_name = {}
			by_path[c.path] = by_name
		end
		by_name[c.name] = c
		self.n_cookies = self.n_cookies + 1
		self.n_cookies_per_domain[c.domain] = (self.n_cookies_per_domain[c.domain] or 0) + 1
	end
	if c.expiry_time < self.next_due then self.next_due = c.expiry_time end
	return true
end

-- store adds a cookie a response set (RFC 6265 section 5.3); it reports
-- whether the cookie was kept.
function Store.store(self, req_domain, req_path, req_is_http, req_is_secure, req_site_for_cookies, name, value, params)
	assert(type(req_domain) == "string", "req_domain: string expected")
	assert(type(req_path) == "string", "req_path: string expected")
	assert(type(name) == "string", "name: string expected")
	assert(type(value) == "string", "value: string expected")
	assert(type(params) == "table", "params: table expected")
	local now = self.time()
	req_domain = assert(canonical(req_domain), "invalid request domain")
	self:clean()
	local c = {
		name = name, value = value, expiry_time = huge, domain = req_domain, path = nil,
		creation_time = now, last_access_time = now, persistent = false, host_only = true,
		secure_only = params.secure and true or false, http_only = params.httponly and true or false,
	}
	-- Max-Age wins over Expires.
	local max_age = params["max-age"]
	if type(max_age) == "string" and find(max_age, "^%-?%d+$") then
		max_age = tonumber(max_age, 10)
		c.persistent = true
		c.expiry_time = max_age <= 0 and -huge or now + max_age
	elseif type(params.expires) == "string" then
		local t = imf_time(params.expires)
		if t then
			c.persistent = true
			c.expiry_time = t
		end
	end
	local domain = type(params.domain) == "string" and params.domain or ""
	if sub(domain, 1, 1) == "." then domain = sub(domain, 2) end
	domain = canonical(domain)
	if domain == nil then return false end
	if domain ~= "" and self.psl and self.psl:is_public_suffix(domain) then
		if domain ~= req_domain then return false end
		domain = ""
	end
	if domain ~= "" then
		if not domain_match(domain, req_domain) then return false end
		c.host_only = false
		c.domain = domain
	end
	local path = type(params.path) == "string" and params.path or ""
	if sub(path, 1, 1) == "/" then
		c.path = path
	elseif sub(req_path, 1, 1) ~= "/" or not find(req_path, "/", 2, true) then
		c.path = "/" -- the default path, RFC 6265 section 5.1.4
	else
		c.path = match(req_path, "^([^?]*)/")
	end
	if c.secure_only and not req_is_secure then return false end
	if c.http_only and not req_is_http then return false end
	-- An insecure origin may not overwrite a secure cookie's name.
	if not req_is_secure then
		for d, by_path in pairs(self.domains) do
			if domain_match(c.domain, d) or domain_match(d, c.domain) then
				for p, by_name in pairs(by_path) do
					local other = by_name[name]
					if other and other.secure_only and path_match(p, c.path) then return false end
				end
			end
		end
	end
	local same_site = params.samesite
	if type(same_site) == "string" then
		same_site = lower(same_site)
		if same_site == "lax" or same_site == "strict" then
			if req_domain ~= req_site_for_cookies then return false end
			c.same_site = same_site
		end
	end
	if sub(name, 1, 9) == "__Secure-" and not c.secure_only then return false end
	if sub(name, 1, 7) == "__Host-" and not (c.secure_only and c.host_only and c.path == "/") then return false end
	return add(self, c, req_is_http, now)
end

-- request_target gives the domain, path and whether a request goes over
-- TLS, from its headers (:authority, else host).
local function request_target(headers, host)
	local scheme = headers:get(":scheme")
	local authority = headers:get(":authority")
	local domain = host
	if authority then domain = util.split_authority(authority, scheme) end
	return domain, headers:get(":path"), scheme == "https"
end

function Store.store_from_request(self, req_headers, resp_headers, req_host, req_site_for_cookies)
	local fields = resp_headers:get_as_sequence("set-cookie")
	if fields.n == 0 then return true end
	local domain, path, secure = request_target(req_headers, req_host)
	for k = 1, fields.n do
		local name, value, params = M.parse_setcookie(fields[k])
		if name then
			self:store(domain, path, true, secure, req_site_for_cookies, name, value, params)
		end
	end
	return true
end

function Store.get(self, domain, path, name)
	assert(type(domain) == "string" and type(path) == "string" and type(name) == "string", "domain, path and name: strings expected")
	self:clean()
	local by_path = self.domains[domain]
	local by_name = by_path and by_path[path]
	local c = by_name and by_name[name]
	return c and c.value
end

-- remove deletes a cookie, every cookie of a domain and path (name nil),
-- or every cookie of a domain (path nil too).
function Store.remove(self, domain, path, name)
	assert(type(domain) == "string", "domain: string expected")
	assert(type(path) == "string" or (path == nil and name == nil), "path: string expected")
	assert(type(name) == "string" or name == nil, "name: string expected")
	local by_path = self.domains[domain]
	if by_path == nil then return end
	local gone = {}
	for p, by_name in pairs(by_path) do
		if path == nil or p == path then
			for n, c in pairs(by_name) do
				if name == nil or n == name then gone[#gone + 1] = c end
			end
		end
	end
	for k = 1, #gone do unlink(self, gone[k]) end
end

-- lookup order: longer paths first, then older cookies; then domain and
-- name, so that the order is always the same.
local function lookup_order(a, b)
	if #a.path ~= #b.path then return #a.path > #b.path end
	if a.creation_time ~= b.creation_time then return a.creation_time < b.creation_time end
	if a.domain ~= b.domain then return a.domain < b.domain end
	return a.name < b.name
end

-- lookup returns the Cookie field value for a request to domain and path
-- (RFC 6265 section 5.4, with RFC 6265bis's SameSite), at most
-- max_cookie_length bytes.
function Store.lookup(self, domain, path, is_http, is_secure, is_safe_method, site_for_cookies, is_top_level, max_cookie_length)
	domain = assert(type(domain) == "string" and canonical(domain), "invalid request domain")
	assert(type(path) == "string", "path: string expected")
	if max_cookie_length == nil then max_cookie_length = self.max_cookie_length end
	assert(type(max_cookie_length) == "number", "max_cookie_length: number expected")
	local now = self.time()
	self:clean()
	local list = {}
	for d, by_path in pairs(self.domains) do
		if domain_match(d, domain) then
			for p, by_name in pairs(by_path) do
				if path_match(p, path) then
					for _, c in pairs(by_name) do
						local cross_site = c.same_site and site_for_cookies ~= domain
						if not (c.host_only and c.domain ~= domain)
							and not (c.http_only and not is_http)
							and not (c.secure_only and not is_secure)
							and not (cross_site and not (c.same_site == "lax" and is_safe_method and is_top_level)) then
							c.last_access_time = now
							list[#list + 1] = c
						end
					end
				end
			end
		end
	end
	sort(list, lookup_order)
	local parts, length = {}, -2 -- no "; " before the first
	for k = 1, #list do
		local p = list[k].name .. "=" .. list[k].value
		if length + 2 + #p > max_cookie_length then break end
		length = length + 2 + #p
		parts[k] = p
	end
	return concat(parts, "; ")
end

function Store.lookup_for_request(self, headers, host, site_for_cookies, is_top_level, max_cookie_length)
	local method = headers:get(":method")
	if method == "CONNECT" then return "" end
	local domain, path, secure = request_target(headers, host)
	return self:lookup(domain, path, true, secure, util.is_safe_method(method), site_for_cookies, is_top_level, max_cookie_length)
end

-- clean_due returns when the next cookie expires (math.huge: none).
function Store.clean_due(self)
	if self.next_due == huge then return huge end
	local due = huge
	each_cookie(self, function(c)
		if c.expiry_time < due then due = c.expiry_time end
	end)
	self.next_due = due
	return due
end

-- clean removes the cookies that have expired.
function Store.clean(self)
	local now = self.time()
	if self.next_due >= now then return true end
	local gone, due = {}, huge
	each_cookie(self, function(c)
		if c.expiry_time < now then
			gone[#gone + 1] = c
		elseif c.expiry_time < due then
			due = c.expiry_time
		end
	end)
	for k = 1, #gone do unlink(self, gone[k]) end
	self.next_due = due
	return true
end

-- The Netscape cookie file format (curl's, one cookie a line).
local function netscape_line(c)
	return format("%s%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.http_only and "#HttpOnly_" or "", c.domain or "unknown",
		c.host_only and "TRUE" or "FALSE", c.path, c.secure_only and "TRUE" or "FALSE",
		max(0, min(2147483647, c.expiry_time)), c.name, c.value)
end

local function netscape_cookie(line, now)
	local http_only = false
	if sub(line, 1, 10) == "#HttpOnly_" then
		http_only, line = true, sub(line, 11)
	elseif sub(line, 1, 1) == "#" then
		return nil
	end
	local domain, host_only, path, secure, expiry, name, value = match(line, "^%.?([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t(%d+)\t([^\t]+)\t(.+)")
	if domain == nil then return nil end
	domain = canonical(domain)
	local flags = { TRUE = true, FALSE = false }
	if domain == nil or flags[host_only] == nil or flags[secure] == nil then return nil end
	expiry = tonumber(expiry, 10)
	return {
		name = name, value = value, expiry_time = expiry, domain = domain, path = path,
		creation_time = now, last_access_time = now, persistent = expiry == 0,
		host_only = flags[host_only], secure_only = flags[secure], http_only = http_only,
	}
end

function Store.load_from_file(self, file)
	local now = self.time()
	self:clean()
	local cookies = {}
	while true do
		local line, err, errno = file:read()
		if line == nil then
			if err ~= nil then return nil, err, errno end
			break
		end
		cookies[#cookies + 1] = netscape_cookie(line, now)
	end
	for k = 1, #cookies do add(self, cookies[k], cookies[k].http_only, now) end
	return true
end

function Store.save_to_file(self, file)
	local ok, err, errno = file:write("# Netscape HTTP Cookie File\n\n")
	if not ok then return nil, err, errno end
	local failed
	each_cookie(self, function(c)
		if failed then return end
		local wrote, werr, werrno = file:write(netscape_line(c))
		if not wrote then failed = { werr, werrno } end
	end)
	if failed then return nil, failed[1], failed[2] end
	return true
end

M.store_mt, M.store_methods = store_mt, Store
package.preload["http.cookie"] = function() return M end
