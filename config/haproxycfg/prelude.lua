-- Runtime of the rules compiled from haproxy.cfg: the generated code that
-- follows this prelude calls these helpers. Everything here is local to
-- the generated chunk; the only globals it changes are the wrappers of
-- core.register_action and core.register_service, which record the
-- scripts' functions so that a rule with a condition can call them.
-- H.actions[phase][name] is the function a script registered for phase
-- ("http-req", ...); H.services[name] a service's.
local H = { actions = { ["http-req"] = {}, ["http-res"] = {}, ["tcp-req"] = {}, ["tcp-res"] = {} }, services = {} }
do
	local register_action, register_service = core.register_action, core.register_service
	-- The originals are tail calls, so that the errors they raise name
	-- the script's line, not this one; a failed registration stops the
	-- start anyway.
	function core.register_action(name, phases, fn, nb_args)
		if type(phases) == "table" then
			for _, p in ipairs(phases) do
				if H.actions[p] then H.actions[p][name] = fn end
			end
		end
		return register_action(name, phases, fn, nb_args)
	end
	function core.register_service(name, mode, fn)
		H.services[name] = fn
		return register_service(name, mode, fn)
	end
end

-- Per-transaction state of the rules, keyed by the TXN object: the
-- backend chosen (be), the sections an allow rule ended (skip). A TXN
-- object is reused by its coroutine's next request, so the first rule of
-- each chain resets its entry.
H.state = setmetatable({}, { __mode = "k" })
function H.begin(txn)
	H.state[txn] = { skip = {} }
end
function H.st(txn)
	local s = H.state[txn]
	if not s then
		s = { skip = {} }
		H.state[txn] = s
	end
	return s
end

-- S is a sample as a string, as HAProxy prints one: nothing for a missing
-- sample, integers without a fraction, booleans as 1 and 0.
local floor, tostring, type, format = math.floor, tostring, type, string.format
local find, gsub, byte, match = string.find, string.gsub, string.byte, string.match
-- An integer beyond 2^53 is an int64_t cdata (the converters' xxh64, the
-- arithmetic on large operands), written without its "LL".
function H.S(v)
	if v == nil then return "" end
	local t = type(v)
	if t == "number" then
		if v == floor(v) and v > -2^53 and v < 2^53 then return format("%d", v) end
		return tostring(v)
	elseif t == "boolean" then
		return v and "1" or "0"
	elseif t == "cdata" then
		local s = tostring(v)
		return match(s, "^(-?%d+)U?LL$") or s
	end
	return tostring(v)
end

-- H.int reads a string's integer as HAProxy does (an optional sign, then
-- the leading digits), exactly to 64 bits: a number, or an int64_t
-- cdata beyond 2^53 (clamped to the 64-bit limits); 0 without digits.
function H.int(s)
	local sign, digits = match(s, "^([+-]?)0*(%d*)")
	if #digits <= 15 then
		local n = tonumber(digits) or 0
		if sign == "-" then n = 0 - n end
		return n
	end
	if #digits > 19 or #digits == 19 and digits > "9223372036854775807" then
		if sign == "-" then return -9223372036854775807LL - 1 end
		return 9223372036854775807LL
	end
	local n = 0LL
	for i = 1, #digits do n = n * 10 + (byte(digits, i) - 48) end
	if sign == "-" then n = -n end
	if n >= -2^53 and n <= 2^53 then return tonumber(n) end
	return n
end

-- H.SE is H.S for the strings of HTTP rules: control characters but
-- HTAB, and DEL, written %XX (HAProxy's http_encode_map).
local function hex(c) return format("%%%02X", byte(c)) end
function H.SE(v)
	local s = H.S(v)
	if find(s, "[%z\1-\8\10-\31\127]") then s = gsub(s, "[%z\1-\8\10-\31\127]", hex) end
	return s
end

-- H.LINE is H.S for the parts of the request line in a log-format
-- string (%HM %HU... %r): control characters, '"', '#', DEL and the
-- bytes above written #XX, as HAProxy's logs write them.
local function hash_hex(c) return format("#%02X", byte(c)) end
function H.LINE(v)
	local s = H.S(v)
	if find(s, '[%z\1-\31"#\127-\255]') then s = gsub(s, '[%z\1-\31"#\127-\255]', hash_hex) end
	return s
end

-- Matchers: v is the sample, p the patterns. A missing sample matches
-- nothing.
local lower, find, sub = string.lower, string.find, string.sub
local M = {}
H.M = M
local function cased(v, i)
	v = H.S(v)
	if i then return lower(v) end
	return v
end
function M.str(v, p, i)
	if v == nil then return false end
	v = cased(v, i)
	for k = 1, #p do if v == p[k] then return true end end
	return false
end
-- bin: the bytes are a pattern's (-i has no effect).
function M.bin(v, p)
	if v == nil then return false end
	v = H.S(v)
	for k = 1, #p do if v == p[k] then return true end end
	return false
end
function M.beg(v, p, i)
	if v == nil then return false end
	v = cased(v, i)
	for k = 1, #p do if sub(v, 1, #p[k]) == p[k] then return true end end
	return false
end
M["end"] = function(v, p, i)
	if v == nil then return false end
	v = cased(v, i)
	for k = 1, #p do if #p[k] <= #v and sub(v, -#p[k]) == p[k] or p[k] == "" then return true end end
	return false
end
function M.sub(v, p, i)
	if v == nil then return false end
	v = cased(v, i)
	for k = 1, #p do if find(v, p[k], 1, true) then return true end end
	return false
end
function M.reg(v, p)
	if v == nil then return false end
	v = H.S(v)
	for k = 1, #p do if p[k]:exec(v) then return true end end
	return false
end
-- dir and dom: the pattern is a whole /-delimited (or .-delimited) part.
local function delimited(v, p, i, d)
	if v == nil then return false end
	v = d .. cased(v, i) .. d
	for k = 1, #p do
		if find(v, d .. p[k] .. d, 1, true) then return true end
	end
	return false
end
function M.dir(v, p, i) return delimited(v, p, i, "/") end
function M.dom(v, p, i) return delimited(v, p, i, ".") end
function M.len(v, p)
	if v == nil then return false end
	return M.int(#H.S(v), p)
end
function M.found(v) return v ~= nil end
function M.bool(v)
	if v == nil or v == false or v == 0 or v == "" or v == "0" then return false end
	return true
end
-- int: p holds {lo, hi} ranges (nil for an open end).
function M.int(v, p)
	if v == nil then return false end
	local t = type(v)
	if t ~= "number" and t ~= "cdata" then
		if t == "boolean" then
			v = v and 1 or 0
		else
			v = H.S(v):match("^%s*([-+]?%d+)")
			if v == nil then return false end
			v = H.int(v)
		end
	end
	for k = 1, #p do
		local r = p[k]
		if (r[1] == nil or v >= r[1]) and (r[2] == nil or v <= r[2]) then return true end
	end
	return false
end
-- ip: p holds {kind, bytes, bits} networks made by H.net.
local function ipbytes(s)
	s = H.S(s)
	local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
	if a then return 4, { tonumber(a), tonumber(b), tonumber(c), tonumber(d) } end
	local v4 = s:match("^::[fF][fF][fF][fF]:(%d+%.%d+%.%d+%.%d+)$")
	if v4 then return ipbytes(v4) end
	if not find(s, ":", 1, true) then return nil end
	local head, tail = s:match("^(.-)::(.*)$")
	local groups = {}
	local function add(part)
		if part == "" then return end
		for g in part:gmatch("[^:]+") do groups[#groups + 1] = tonumber(g, 16) or 0 end
	end
	if head then
		add(head)
		local n = #groups
		local rest = {}
		for g in tail:gmatch("[^:]+") do rest[#rest + 1] = tonumber(g, 16) or 0 end
		for _ = 1, 8 - n - #rest do groups[#groups + 1] = 0 end
		for k = 1, #rest do groups[#groups + 1] = rest[k] end
	else
		add(s)
	end
	local out = {}
	for k = 1, 8 do
		local g = groups[k] or 0
		out[#out + 1] = floor(g / 256)
		out[#out + 1] = g % 256
	end
	return 6, out
end
-- ip_of reads a header value as an address (hdr_ip): a dotted IPv4
-- address at its start (a port may follow), else a whole IPv6 one.
function H.ip_of(v)
	if v == nil then return nil end
	local v4 = v:match("^%d+%.%d+%.%d+%.%d+")
	if v4 then
		for o in v4:gmatch("%d+") do if tonumber(o) > 255 then return nil end end
		return v4
	end
	if find(v, ":", 1, true) and not find(v, "[^%x:.]") and ipbytes(v) == 6 then return v end
	return nil
end

function H.net(s)
	local addr, bits = s:match("^(.-)/(%d+)$")
	addr = addr or s
	local kind, b = ipbytes(addr)
	if not kind then
		local a, m = s:match("^(.-)/(%d+%.%d+%.%d+%.%d+)$")
		if a then
			local _, mb = ipbytes(m)
			local n = 0
			for k = 1, 4 do
				local x = mb[k]
				while x > 0 do n = n + x % 2; x = floor(x / 2) end
			end
			kind, b, bits = ipbytes(a), select(2, ipbytes(a)), n
		end
	end
	if not kind then error("invalid address '" .. s .. "'", 0) end
	return { kind, b, tonumber(bits) or (kind == 4 and 32 or 128) }
end
function M.ip(v, p)
	if v == nil then return false end
	local kind, b = ipbytes(v)
	if not kind then return false end
	for k = 1, #p do
		local n = p[k]
		if n[1] == kind then
			local bits, ok = n[3], true
			for i = 1, #b do
				local left = bits - (i - 1) * 8
				if left <= 0 then break end
				local keep = left >= 8 and 256 or 2 ^ left
				local div = 256 / keep
				if floor(b[i] / div) ~= floor(n[2][i] / div) then ok = false; break end
			end
			if ok then return true end
		end
	end
	return false
end

-- any applies a matcher to each value of a multi-valued fetch.
function H.any(list, m, p, i)
	if list == nil then return false end
	for k = 1, #list do if m(list[k], p, i) then return true end end
	return false
end

-- The terms of the conditions the tcp-request content rules evaluate
-- before their last run (cond3 in expr.go): true, false, or nil when the
-- term did not match on a sample that more client bytes may change
-- (HAProxy's ACL_TEST_MISS). fresh clears the fetches' mark before a term,
-- t3 reads it after; not3 negates, leaving nil nil.
function H.fresh(txn)
	txn.f:_may_change()
	return true
end
function H.t3(txn, matched)
	if matched then return true end
	if txn.f:_may_change() then return nil end
	return false
end
function H.not3(r)
	if r == nil then return nil end
	return not r
end

-- hdrs returns the values of a request (res false) or response header,
-- split at commas unless full, or nil when it has none.
-- acl_files matches v (a list of values when list) against the ACL files
-- (their patterns as add-acl and del-acl rules and the runtime API change
-- them, on every core) with match method (a Map constant), then against
-- the static patterns p with the M function m (none when m is nil).
function H.acl_files(v, method, files, list, m, p, icase)
	if v ~= nil then
		local vs = v
		if not list then vs = { v } end
		for i = 1, #vs do
			local x = vs[i]
			for j = 1, #files do
				if core.match_acl(files[j], tostring(x), method) then return true end
			end
		end
	end
	if m == nil then return false end
	if list then return H.any(v, m, p, icase) end
	return m(v, p, icase)
end

function H.hdrs(txn, name, res, full)
	local all = res and txn.http:res_get_headers() or txn.http:req_get_headers()
	local h = all[name]
	if h == nil then return nil end
	local out = {}
	for k = 0, #h do
		local line = h[k]
		if line then
			if full then
				out[#out + 1] = line
			else
				for item in (line .. ","):gmatch("%s*(.-)%s*,") do out[#out + 1] = item end
			end
		end
	end
	if #out == 0 then return nil end
	return out
end

-- urlp returns the value of a query string parameter.
function H.urlp(txn, name)
	local q = txn.f:query()
	if q == nil then return nil end
	for pair in (q .. "&"):gmatch("(.-)&") do
		local k, v = pair:match("^([^=]*)=?(.*)$")
		if k == name then return v end
	end
	return nil
end

-- cook returns the value of a request cookie (the last one of that name).
-- cookies lists the values of the request's cookies called name, or of
-- every cookie when name is nil.
local function cookies(txn, name)
	local out = {}
	local all = H.hdrs(txn, "cookie", false, true)
	if all == nil then return out end
	for _, line in ipairs(all) do
		for pair in (line .. ";"):gmatch("%s*(.-)%s*;") do
			local k, v = pair:match("^([^=]*)=(.*)$")
			if k ~= nil and (name == nil or k == name) then out[#out + 1] = v end
		end
	end
	return out
end

-- cook is the value of the last cookie called name, or of the first
-- cookie without a name.
function H.cook(txn, name)
	local vals = cookies(txn, name)
	if name == nil then return vals[1] end
	return vals[#vals]
end

-- cook_cnt counts the cookies called name (every cookie without one).
function H.cook_cnt(txn, name)
	return #cookies(txn, name)
end

-- cook_val is cook read as an integer: its leading digits, else 0.
function H.cook_val(txn, name)
	local v = H.cook(txn, name)
	if v == nil then return nil end
	return tonumber(v:match("^[+-]?%d+")) or 0
end

-- scook returns the value of a cookie the response sets (the last
-- Set-Cookie of that name; a Set-Cookie sets one cookie, its first pair).
function H.scook(txn, name)
	local found
	local all = H.hdrs(txn, "set-cookie", true, true)
	if all == nil then return nil end
	for _, line in ipairs(all) do
		local k, v = line:match("^%s*([^=;]-)%s*=%s*([^;]-)%s*;")
		if k == nil then k, v = line:match("^%s*([^=;]-)%s*=%s*([^;]-)%s*$") end
		if k == name then found = v end
	end
	return found
end

-- send ends the transaction with answer a: {status, reason, fields, body},
-- fields a list of names and values in the order they go out (a
-- content-length stands for the body's). close (option httpclose) adds
-- connection: close, which closes the connection after it, as HAProxy.
function H.send(txn, a, close)
	local r = txn:reply()
	r:set_status(a.status, a.reason)
	local f = a.fields
	for i = 1, #f, 2 do r:add_header(f[i], f[i + 1]) end
	if close then r:add_header("connection", "close") end
	r:set_body(a.body)
	txn:done(r)
end

-- head_bytes is about what the request's (side "req") or response's
-- head takes in HAProxy's buffer: each field's name and value and 8 bytes
-- of its own, the start line, and 64 bytes; the fields named skip (a
-- set-header's, which it replaces) left out.
function H.head_bytes(txn, side, skip)
	local hdrs, n
	if side == "req" then
		hdrs = txn.http:req_get_headers()
		n = 64 + #txn.f:method() + #(txn.f:url() or "") + 8
	else
		hdrs = txn.http:res_get_headers()
		n = 64 + 32
	end
	for name, vals in pairs(hdrs) do
		if name ~= skip then
			for _, v in pairs(vals) do n = n + #name + #v + 8 end
		end
	end
	return n
end

-- svc is the service of an HTTP frontend that forwards nowhere: it never
-- runs, a use-service rule sets txn.service, and the rules answer
-- HAProxy's 503 when nothing answers.
function H.svc()
	return function() end
end

-- del_headers is del-header NAME -m beg|end|sub|reg on side ("req" or
-- "res"): every field whose (lower-case) name matches p goes.
function H.del_headers(txn, side, how, p)
	local hdrs
	if side == "req" then hdrs = txn.http:req_get_headers() else hdrs = txn.http:res_get_headers() end
	for name in pairs(hdrs) do
		local hit
		if how == "beg" then
			hit = sub(name, 1, #p) == p
		elseif how == "end" then
			hit = #p <= #name and sub(name, #name - #p + 1) == p
		elseif how == "sub" then
			hit = find(name, p, 1, true) ~= nil
		else
			hit = p:exec(name)
		end
		if hit then
			if side == "req" then txn.http:req_del_header(name) else txn.http:res_del_header(name) end
		end
	end
end

-- regex compiles an ACL's regular expression once, at load time.
function H.regex(pattern, case_sensitive)
	local ok, re = Regex.new(pattern, case_sensitive)
	if not ok then error("invalid regular expression '" .. pattern .. "': " .. tostring(re), 0) end
	return re
end

-- expand is HAProxy's expansion of a replacement: \0..\9 the match and
-- its groups (caps: Regex:match's list), \xHH a byte, \ before any other
-- character that character; nil for a lone \ at the end.
local function expand(fmt, caps)
	local out, i, n = {}, 1, #fmt
	while i <= n do
		local c = sub(fmt, i, i)
		if c ~= "\\" then
			out[#out + 1], i = c, i + 1
		elseif i == n then
			return nil
		else
			local d = sub(fmt, i + 1, i + 1)
			if find(d, "^%d$") then
				out[#out + 1], i = caps[tonumber(d) + 1] or "", i + 2
			elseif d == "x" then
				out[#out + 1], i = string.char((tonumber(sub(fmt, i + 2, i + 3), 16) or 0) % 256), i + 4
			else
				out[#out + 1], i = d, i + 2
			end
		end
	end
	return table.concat(out)
end

-- set_pathq makes v the path and query of the target, keeping an
-- absolute-form's scheme and authority (set-pathq, replace-pathq).
function H.set_pathq(txn, v)
	local t = txn.f:url() or ""
	txn.http:req_set_uri((t:match("^[%a][%w+.-]*://[^/?]*") or "") .. v)
end

-- replace_target is replace-path, replace-pathq and replace-uri: when re
-- matches the request's path (part "path"), path and query ("pathq") or
-- target ("uri"), that part becomes fmt expanded.
function H.replace_target(txn, part, re, fmt)
	local f = txn.f
	local v
	if part == "uri" then
		v = f:url()
	else
		v = f:path()
		local q = f:query()
		if part == "pathq" and q ~= nil and q ~= "" then v = v .. "?" .. q end
	end
	if v == nil or v == "" then return end
	local ok, caps = re:match(v)
	if not ok then return end
	local out = expand(fmt, caps)
	if out == nil then return end
	if part == "path" then
		txn.http:req_set_path(out)
	elseif part == "pathq" then
		H.set_pathq(txn, out)
	else
		txn.http:req_set_uri(out)
	end
end

-- The normalizers of normalize-uri, HAProxy's: each takes the part of
-- the request target it works on and returns it normalized, or nil when
-- a strict one finds a '%' that does not start an escape.
local N = {}
local unreserved = "^[A-Za-z0-9%-._~]$"

-- dotdot merges each "/../" with the segment before it; the ".." that
-- have none left stay at the start unless full.
local function dotdot(p, full)
	local toks, out, up = {}, {}, 0
	for t in (p .. "/"):gmatch("([^/]*)/") do toks[#toks + 1] = t end
	for i = 2, #toks do
		if toks[i] == ".." then
			if #out > 0 then out[#out] = nil else up = up + 1 end
		else
			out[#out + 1] = toks[i]
		end
	end
	local r = "/" .. table.concat(out, "/")
	if toks[#toks] == ".." and #out > 0 then r = r .. "/" end
	if not full then r = string.rep("/..", up) .. r end
	return r
end
-- dot drops the "." segments; each segment kept keeps the '/' after it.
local function dot(p)
	local toks, out = {}, {}
	for t in (p .. "/"):gmatch("([^/]*)/") do toks[#toks + 1] = t end
	for i, t in ipairs(toks) do
		if t ~= "." then out[#out + 1] = t .. (i < #toks and "/" or "") end
	end
	return table.concat(out)
end
-- percent rewrites each escape with fn(the two hex digits); a '%' without
-- two hex digits after it stays, or fails when strict.
local function percent(v, strict, fn)
	local out, i, n = {}, 1, #v
	while i <= n do
		local c = sub(v, i, i)
		if c == "%" then
			local hx = sub(v, i + 1, i + 2)
			if find(hx, "^%x%x$") then
				out[#out + 1], i = fn(hx), i + 3
			elseif strict then
				return nil
			else
				out[#out + 1], i = c, i + 1
			end
		else
			out[#out + 1], i = c, i + 1
		end
	end
	return table.concat(out)
end
N["path-merge-slashes"] = function(p) return (gsub(p, "//+", "/")) end
N["path-strip-dot"] = function(p) return dot(p) end
N["path-strip-dotdot"] = function(p, full) return dotdot(p, full) end
N["percent-to-uppercase"] = function(v, strict)
	return percent(v, strict, function(hx) return "%" .. hx:upper() end)
end
N["percent-decode-unreserved"] = function(v, strict)
	return percent(v, strict, function(hx)
		local c = string.char(tonumber(hx, 16))
		if find(c, unreserved) then return c end
		return "%" .. hx
	end)
end
N["fragment-strip"] = function(v) return (v:match("^[^#]*")) end
N["fragment-encode"] = function(v) return (gsub(v, "#", "%%23")) end
N["query-sort-by-name"] = function(q)
	local params = {}
	for pr in (q .. "&"):gmatch("([^&]*)&") do
		params[#params + 1] = { name = pr:match("^[^=]*"), v = pr, i = #params }
	end
	table.sort(params, function(a, b)
		if a.name ~= b.name then return a.name < b.name end
		return a.i < b.i
	end)
	for i, pr in ipairs(params) do params[i] = pr.v end
	return table.concat(params, "&")
end
-- on says which part of the target each normalizer works on: the path
-- without its query, the query, or both.
local on = {
	["path-merge-slashes"] = "path", ["path-strip-dot"] = "path", ["path-strip-dotdot"] = "path",
	["query-sort-by-name"] = "query",
}

-- normalize_uri is normalize-uri NAME [full|strict] on an origin-form
-- request target; false when a strict normalizer refuses it (a 400).
function H.normalize_uri(txn, name, opt)
	local t = txn.f:url()
	if t == nil or byte(t) ~= 47 then return true end -- "/"
	local path, q = t:match("^([^?]*)(.*)$")
	local part = on[name] or "pathq"
	if part == "path" then
		txn.http:req_set_path(N[name](path, opt))
	elseif part == "query" then
		if #q > 1 then txn.http:req_set_query(N[name](sub(q, 2))) end
	else
		local v = N[name](t, opt)
		if v == nil then return false end
		if v ~= t then txn.http:req_set_uri(v) end
	end
	return true
end

-- conv applies converter name of c to v, unless v is no sample.
function H.conv(c, name, v, ...)
	if v == nil then return nil end
	return c[name](c, v, ...)
end

-- strcmp compares v with a variable's w as strings: 0, or the difference
-- of the first bytes that differ, else -1 or 1 for the shorter; no sample
-- without both.
function H.strcmp(v, w)
	if v == nil or w == nil then return nil end
	v, w = H.S(v), H.S(w)
	for i = 1, math.min(#v, #w) do
		local a, b = byte(v, i), byte(w, i)
		if a ~= b then return a - b end
	end
	if #v < #w then return -1 elseif #v > #w then return 1 end
	return 0
end

-- secure_memcmp: whether v and a variable's w hold the same bytes.
function H.secure_memcmp(v, w)
	if v == nil or w == nil then return nil end
	return H.S(v) == H.S(w)
end

-- add_item appends delim (when v is not empty and something follows),
-- the variable's w (when set) and suffix to v.
function H.add_item(v, delim, w, suffix)
	if v == nil then return nil end
	v = H.S(v)
	if w ~= nil then w = H.S(w) end
	if v ~= "" and (w ~= nil and w ~= "" or suffix ~= "") then v = v .. delim end
	return v .. (w or "") .. suffix
end

-- hmac is the hmac converter of c with a key that may be a variable's:
-- none, no sample.
function H.hmac(c, v, alg, key)
	if v == nil or key == nil then return nil end
	return c:hmac(v, alg, H.S(key))
end

-- bin2str casts a binary sample to a string as HAProxy does: it ends at
-- its first NUL byte.
function H.bin2str(v)
	if v == nil then return nil end
	local i = find(v, "\0", 1, true)
	if i == nil then return v end
	return v:sub(1, i - 1)
end

-- cat is the concat converter: v then the pieces (strings; up to three,
-- nil when absent), unless v is no sample.
function H.cat(v, a, b, c)
	if v == nil then return nil end
	return H.S(v) .. (a or "") .. (b or "") .. (c or "")
end

-- arith is the converter name (add, sub, mul, div, mod, and, or, xor:
-- TXN.c's, exact on 64 bits) of c with the operand b, a number or a
-- variable's value. No sample, or an empty string (which does not cast
-- to an integer), on either side stops the expression; a string is read
-- up to its first non-digit.
function H.arith(c, a, name, b)
	if a == nil or a == "" or b == nil or b == "" then return nil end
	local t = type(b)
	if t == "boolean" then
		b = b and 1 or 0
	elseif t == "string" then
		b = H.int(b)
	end
	return c[name](c, a, b)
end

-- method is HAProxy's method fetch: the method as received when HAProxy
-- knows it by name (its copy, which set-method leaves alone), else the
-- method as rewritten, and none once the response is there.
local known_methods = { OPTIONS = true, GET = true, HEAD = true, POST = true, PUT = true, DELETE = true, TRACE = true, CONNECT = true }
function H.method(txn)
	local m = txn.f:capture_req_method()
	if known_methods[m] then return m end
	if txn.f:status() ~= nil then return nil end
	return txn.f:method()
end

-- date is the current date as HAProxy's logs write it: %t (local, with
-- milliseconds) or, gmt, %T ("10/Feb/2009:16:46:57 +0000").
function H.date(gmt)
	local now = core.now()
	if gmt then return os.date("!%d/%b/%Y:%H:%M:%S +0000", now.sec) end
	return os.date("%d/%b/%Y:%H:%M:%S", now.sec) .. format(".%03d", floor(now.usec / 1000))
end

-- resolve looks name up (the request waits) and returns an address of
-- the family preferred (v6 or not), else one of the other, or nil.
function H.resolve(name, v6)
	if name == nil then return nil end
	local addrs = core.resolve(H.S(name))
	if addrs == nil then return nil end
	local other
	for _, a in ipairs(addrs) do
		if (find(a, ":", 1, true) ~= nil) == v6 then return a end
		other = other or a
	end
	return other
end

-- forwardfor adds option forwardfor's header, o = {name, the networks of
-- except (or false), if-none}.
function H.forwardfor(txn, o)
	local src = txn.f:src()
	if o[2] and M.ip(src, o[2]) then return end
	if o[3] and txn.f:req_hdr_cnt(o[1]) > 0 then return end
	txn.http:req_add_header(o[1], src)
end

-- originalto adds option originalto's header, o = {name, the frontend's
-- except networks (or false), the backend's (or false)}: the address the
-- client connected to, unless it is in either network.
function H.originalto(txn, o)
	local dst = txn.f:dst()
	if dst == nil then return end
	if o[2] and M.ip(dst, o[2]) or o[3] and M.ip(dst, o[3]) then return end
	txn.http:req_add_header(o[1], dst)
end

-- bad_hdr_names tells whether a request field's name holds a byte other
-- than a letter, a digit or '-' (option http-restrict-req-hdr-names);
-- with delete, it deletes those fields.
function H.bad_hdr_names(txn, delete)
	local bad = false
	for name in pairs(txn.http:req_get_headers()) do
		if find(name, "[^A-Za-z0-9%-]") then
			if not delete then return true end
			txn.http:req_del_header(name)
			bad = true
		end
	end
	return bad
end

-- uid returns the request's unique ID, made with gen (its frontend's
-- unique-id-format) when first asked; nil without a format.
function H.uid(txn, gen)
	local id = txn:get_var("txn.__hc_unique_id")
	if id == nil and gen then
		id = H.S(gen(txn))
		txn:set_var("txn.__hc_unique_id", id)
	end
	return id
end

-- Basic authentication (http_auth and friends). auth_parts returns the
-- Authorization field's scheme, and for Basic the user and the password;
-- the last field read and its parts are kept (a client sends the same
-- with each request).
local last_field, last_parts
local function auth_parts(txn)
	local v = txn.http:req_get_headers()["authorization"]
	v = v and v[0]
	if v == nil then return nil end
	if v == last_field then return last_parts end
	local a
	local scheme, rest = v:match("^%s*(%S+)%s*(.-)%s*$")
	if scheme then
		a = { scheme }
		if scheme:lower() == "basic" then
			local dec = txn.c:b64dec(rest)
			a[2], a[3] = (dec or ""):match("^([^:]*):(.*)$")
		end
	end
	last_field, last_parts = v, a
	return a
end

function H.auth_part(txn, i)
	local a = auth_parts(txn)
	return a and a[i]
end

function H.auth_bearer(txn, field)
	local v = txn.http:req_get_headers()[field]
	v = v and v[0]
	local scheme, token = (v or ""):match("^%s*(%S+)%s+(.-)%s*$")
	if scheme and scheme:lower() == "bearer" then return token end
	return nil
end

-- verified remembers, per userlist user, the last password a hash was
-- checked against with success: crypt(3) hashes are slow by design, and a
-- client sends its password with every request.
local verified = setmetatable({}, { __mode = "k" })

-- auth_user returns the name of the request's user when its password is
-- right for userlist ul (a table of users: pass, hashed, groups).
function H.auth_user(txn, ul)
	local a = auth_parts(txn)
	local name, pass = a and a[2], a and a[3]
	if not name or not pass then return nil end
	local u = ul[name]
	if u == nil then return nil end
	if not u.hashed then
		if pass == u.pass then return name end
		return nil
	end
	if verified[u] == pass then return name end
	if core.crypt_check(pass, u.pass) then
		verified[u] = pass
		return name
	end
	return nil
end

function H.auth_ok(txn, ul) return H.auth_user(txn, ul) ~= nil end

function H.auth_groups(txn, ul)
	local name = H.auth_user(txn, ul)
	return name and ul[name].groups or nil
end

-- challenge returns answer with its WWW-Authenticate fields replaced by
-- challenge (answers are shared: a copy).
function H.challenge(answer, challenge)
	local f, h = answer.fields, {}
	for i = 1, #f, 2 do
		if f[i] ~= "www-authenticate" then
			h[#h + 1] = f[i]
			h[#h + 1] = f[i + 1]
		end
	end
	h[#h + 1] = "www-authenticate"
	h[#h + 1] = challenge
	return { status = answer.status, reason = answer.reason, fields = h, body = answer.body }
end
