-- Fetches: HAProxy's sample fetches for Lua (TXN.f, TXN.sf).
-- Reference: HAProxy Lua API, class Fetches; the fetches themselves are
-- described in HAProxy's configuration manual, section 7.3.
-- A fetch named "req.hdr" in the configuration language is the method
-- req_hdr here, as in HAProxy.
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")
local bit = require("bit")

local ffi_string = ffi.string
local tostring, tonumber, type = tostring, tonumber, type
local find, sub, match = string.find, string.sub, string.match

-- field_values returns the values of every field called name (lower-case)
-- in s.fields / s.rfields, split on commas unless full is set. Values are
-- trimmed of blanks at both ends, whole ones too: a rule may have set
-- "v " (set-header), which HAProxy's fetches read as "v".
local function field_values(base, fields, n, name, full)
	local out = {}
	for i = 0, n - 1 do
		local f = fields[i]
		if f.name.len == #name and ffi_string(base + f.name.off, f.name.len) == name then
			local v = ffi_string(base + f.value.off, f.value.len)
			if full then
				out[#out + 1] = match(v, "^[ \t\r\n]*(.-)[ \t\r\n]*$")
			else
				-- Every element counts, empty ones too ("a,,b" has three,
				-- "" one), as HAProxy splits them.
				local pos = 1
				while true do
					local comma = find(v, ",", pos, true)
					out[#out + 1] = match(sub(v, pos, (comma or 0) - 1), "^%s*(.-)%s*$")
					if comma == nil then break end
					pos = comma + 1
				end
			end
		end
	end
	return out
end

local function req_values(s, name, full)
	return field_values(s.head.p, s.fields, s.nfields, name:lower(), full)
end

local function res_values(s, name, full)
	return field_values(s.resp.p, s.rfields, s.nrfields, name:lower(), full)
end
I.req_values, I.res_values = req_values, res_values

-- occurrence picks HAProxy's occurrence: none → the last, n > 0 the n-th
-- from the first, n < 0 the n-th from the last.
local function occurrence(vals, occ)
	occ = tonumber(occ)
	if occ == nil or occ == 0 then return vals[#vals] end
	if occ > 0 then return vals[occ] end
	return vals[#vals + 1 + occ]
end

local function need_name(fname, name)
	if type(name) ~= "string" then
		error("fetch '" .. fname .. "': argument #1 must be a header name (string), got " .. type(name), 3)
	end
end

local F = {}

function F.src(s) return I.span(s, s.src) end
function F.src_port(s) return s.src_port end
function F.dst(s) return I.span(s, s.dst) end
function F.dst_port(s) return s.dst_port end
function F.method(s) return I.span(s, s.method) end
function F.path(s) return I.span(s, s.path) end
function F.query(s)
	if s.query.len == 0 then return nil end
	return I.span(s, s.query)
end
function F.url(s) return I.span(s, s.target) end
function F.base(s)
	-- The Host field as scripts left it, not the one that arrived.
	local host = req_values(s, "host", true)
	return (host[#host] or I.span(s, s.authority)) .. I.span(s, s.path)
end
function F.req_ver(s) return s.major .. "." .. s.minor end
F.req_proto_http = function() return true end
function F.fc_http_major(s)
	if s.kind == I.KIND_HTTP2 then return 2 end
	return s.major
end
-- The request's scheme as the stream carries it ("http" when Go set none).
function F.scheme(s)
	if s.scheme.len == 0 then return "http" end
	return I.span(s, s.scheme)
end
-- The client connection's TLS, as Go recorded it with the request; on a
-- clear connection ssl_fc is false and the others nil.
function F.ssl_fc(s) return s.tls_version.len > 0 end
local function tls_fact(field)
	return function(s)
		local sp = s[field]
		if s.tls_version.len == 0 or sp.len == 0 then return nil end
		return I.span(s, sp)
	end
end
F.ssl_fc_protocol = tls_fact("tls_version")
F.ssl_fc_cipher = tls_fact("tls_cipher")
F.ssl_fc_sni = tls_fact("tls_sni")
F.ssl_fc_alpn = tls_fact("tls_alpn")

-- The certificate the client presented (the ssl_c fetches): Go encoded
-- its facts once per connection (transport.ClientFacts: each is its
-- length, a colon and its bytes). On a clear connection they all fail
-- (nil); over TLS without a certificate ssl_c_used is false, ssl_c_verify
-- 0 and the others fail. A certificate that did not verify failed the
-- handshake, so ssl_c_verify and ssl_c_err are 0 whenever there is one.
local function client_fact(s, i)
	local sp = s.tls_client
	if sp.len == 0 then return nil end
	local facts, at = I.span(s, sp), 1
	for k = 1, i do
		local colon = facts:find(":", at, true)
		if colon == nil then return nil end
		local n = tonumber(facts:sub(at, colon - 1))
		if k == i then return facts:sub(colon + 1, colon + n) end
		at = colon + 1 + n
	end
end
local function tls_conn(s) return s.tls_version.len > 0 end
function F.ssl_c_used(s)
	if not tls_conn(s) then return nil end
	return s.tls_client.len > 0
end
function F.ssl_c_verify(s)
	if not tls_conn(s) then return nil end
	return 0
end
F.ssl_c_err, F.ssl_c_ca_err, F.ssl_c_ca_err_depth = F.ssl_c_verify, F.ssl_c_verify, F.ssl_c_verify
-- dn returns a DN fetch: the whole DN in one-line form (fact i), or the
-- value of its entry-th attribute of a type (occ: the n-th from the first,
-- or from the last when negative; the first by default), or the whole DN
-- in RFC 2253's form (fact i2253) when format is "rfc2253".
local function dn(i, i2253)
	return function(s, entry, occ, format)
		if (entry == nil or entry == "") and format == "rfc2253" then
			return client_fact(s, i2253)
		end
		local line = client_fact(s, i)
		if line == nil then return nil end
		local parts = {}
		for typ, value in line:gmatch("/([^=/]+)=([^/]*)") do
			parts[#parts + 1] = { typ, value }
		end
		if entry ~= nil and entry ~= "" then
			local vals = {}
			for _, p in ipairs(parts) do
				if p[1] == entry then vals[#vals + 1] = p[2] end
			end
			occ = tonumber(occ) or 1
			if occ == 0 then occ = 1 end
			if occ < 0 then occ = #vals + 1 + occ end
			return vals[occ]
		end
		return line
	end
end
F.ssl_c_s_dn = dn(1, 11)
F.ssl_c_i_dn = dn(2, 12)
function F.ssl_c_serial(s) return client_fact(s, 3) end
function F.ssl_c_sha1(s) return client_fact(s, 4) end
function F.ssl_c_notbefore(s) return client_fact(s, 5) end
function F.ssl_c_notafter(s) return client_fact(s, 6) end
function F.ssl_c_der(s) return client_fact(s, 7) end
function F.ssl_c_version(s)
	local v = client_fact(s, 8)
	return v and tonumber(v)
end
function F.ssl_c_sig_alg(s) return client_fact(s, 9) end
function F.ssl_c_key_alg(s) return client_fact(s, 10) end
-- The TLVs of the connection's PROXY v2 header: the block as it came,
-- walked when a fetch asks for one (each TLV: a type byte, a 16-bit
-- length, the value). The SSL TLV's sub-TLVs are found inside it.
local u8p = ffi.typeof("const uint8_t *")
local function pp_find(p, n, typ)
	local i = 0
	while i + 3 <= n do
		local t, len = p[i], p[i + 1] * 256 + p[i + 2]
		if i + 3 + len > n then return nil end
		if t == typ then return ffi_string(p + i + 3, len) end
		if t == 0x20 and typ > 0x20 and typ <= 0x25 and len >= 5 then
			local v = pp_find(p + i + 8, len - 5, typ)
			if v then return v end
		end
		i = i + 3 + len
	end
	return nil
end
local function pp_tlv(s, typ)
	local sp = s.pp_tlvs
	if sp.len == 0 then return nil end
	return pp_find(ffi.cast(u8p, s.head.p) + sp.off, sp.len, typ)
end
-- HAProxy's names of the TLV types fc_pp_tlv takes.
local pp_types = {ALPN = 0x01, AUTHORITY = 0x02, CRC32C = 0x03, NOOP = 0x04, UNIQUE_ID = 0x05, SSL = 0x20,
	SSL_VERSION = 0x21, SSL_CN = 0x22, SSL_CIPHER = 0x23, SSL_SIG_ALG = 0x24, SSL_KEY_ALG = 0x25, NETNS = 0x30}
function F.fc_pp_authority(s) return pp_tlv(s, 0x02) end
function F.fc_pp_unique_id(s) return pp_tlv(s, 0x05) end
function F.fc_pp_tlv(s, id)
	local typ = pp_types[id] or tonumber(id)
	if typ == nil or typ < 0 or typ > 255 or typ % 1 ~= 0 then
		error("fetch 'fc_pp_tlv': argument #1 must be a TLV type (0 to 255, or a name such as AUTHORITY), got " .. tostring(id), 3)
	end
	return pp_tlv(s, typ)
end

function F.hdr(s, name, occ)
	need_name("hdr", name)
	return occurrence(req_values(s, name), occ)
end
F.req_hdr = F.hdr
function F.req_fhdr(s, name, occ)
	need_name("req.fhdr", name)
	return occurrence(req_values(s, name, true), occ)
end
function F.req_hdr_cnt(s, name)
	need_name("req.hdr_cnt", name)
	return #req_values(s, name)
end
F.hdr_cnt = F.req_hdr_cnt
function F.req_body(s)
	return ffi_string(s.body.p + s.body_pos, s.body.len - s.body_pos)
end
function F.req_len(s) return s.body.len - s.body_pos end

-- HAProxy's buffer size (tune.bufsize): a block reaching past it never
-- matches.
local bufsize = 16384

-- payload is req.payload(off, len) on the n bytes at p: len 0 reads to
-- the end; a block past the data gives no sample, and true when more
-- bytes could bring it (it fits in the buffer).
local function payload(p, n, off, len)
	off, len = tonumber(off), tonumber(len)
	if off == nil or len == nil or off < 0 or len < 0 or off + len > bufsize then return nil end
	if off + len > n then return nil, true end
	if len == 0 then len = n - off end
	return ffi_string(p + off, len)
end

-- payload_lv is req.payload_lv(off1, len[, off2]) on the n bytes at p:
-- the block's size is the big-endian integer of len bytes at off1; the
-- block starts after it, or at off2 ("+N" / "-N": relative to there). No
-- sample, and true when more bytes could bring it.
local function payload_lv(p, n, off1, len, off2)
	off1, len = tonumber(off1), tonumber(len)
	if off1 == nil or len == nil or off1 < 0 or len <= 0 then return nil end
	if off1 + len > n then return nil, true end
	local size = 0
	for i = off1, off1 + len - 1 do size = size * 256 + p[i] end
	local at = off1 + len
	if off2 ~= nil then
		local rel = type(off2) == "string" and off2:find("^[+-]") ~= nil
		off2 = tonumber(off2)
		if off2 == nil then return nil end
		at = rel and at + off2 or off2
	end
	if size == 0 or size > bufsize or at < 0 or at + size > bufsize then return nil end
	if at + size > n then return nil, true end
	return ffi_string(p + at, size)
end

-- The fetches over a TCP client's first bytes (the input of the
-- tcp-request rules): req.len, req.payload, req.payload_lv, wait_end and
-- the req.ssl_* ones, made for ctx. In HTTP mode HAProxy 2.6 holds parsed
-- messages, not a buffer of bytes: the payload fetches give no sample
-- there, nor the req.ssl_* ones.
--
-- In the tcp-request rules, before their last run (I.req_final), a fetch
-- whose answer more bytes could change records it in ctx.may_change:
-- HAProxy's SMP_F_MAY_CHANGE, which makes a condition undecided (the
-- haproxy.cfg rules read and clear it with _may_change).
local hello_ids = { type = 1, ver = 2, sni = 3, alpn = 4, ec_ext = 5, st_ext = 6 }
local HELLO_OK, HELLO_SHORT = 0, 1
function I.input_fetches(ctx, F)
	local function input(s)
		local at = s.body_pos + (ctx.passed or 0)
		return s.body.p + at, s.body.len - at
	end
	-- changing marks that a sample may change, unless this is the rules'
	-- last run.
	local function changing(s)
		if ctx.tcp_stage == "req" and not I.req_final(s, ctx) then ctx.may_change = true end
	end
	local req_len = F.req_len
	F.req_len = function(s)
		if not ctx.tcp then return req_len(s) end
		changing(s)
		local _, n = input(s)
		return n
	end
	F.req_payload = function(s, off, len)
		if not ctx.tcp then return nil end
		local p, n = input(s)
		local v, short = payload(p, n, off, len)
		-- "To the end" (len 0) grows with the input too.
		if short or (v ~= nil and tonumber(len) == 0) then changing(s) end
		return v
	end
	F.req_payload_lv = function(s, off1, len, off2)
		if not ctx.tcp then return nil end
		local p, n = input(s)
		local v, short = payload_lv(ffi.cast(u8p, p), n, off1, len, off2)
		if short then changing(s) end
		return v
	end
	F.wait_end = function(s)
		if ctx.tcp_stage == "req" and not I.req_final(s, ctx) then
			ctx.may_change = true
			return nil
		end
		return true
	end
	-- hello runs fetch what of proto/tlshello on the input (the first
	-- bufsize bytes, as HAProxy's buffer holds): its status and values.
	local function hello(s, what)
		if not ctx.tcp or ctx.tcp_stage ~= "req" then return nil end
		local p, n = input(s)
		if n == 0 then
			changing(s)
			return nil
		end
		local r = { I.gocall(I.go.tls_hello, hello_ids[what], ffi_string(p, n < bufsize and n or bufsize)) }
		if r[1] == HELLO_SHORT then changing(s) end
		if r[1] ~= HELLO_OK then return nil end
		return r
	end
	local function one(what)
		return function(s)
			local r = hello(s, what)
			return r and r[2]
		end
	end
	F.req_ssl_hello_type, F.req_ssl_ver, F.req_ssl_sni = one("type"), one("ver"), one("sni")
	F.req_ssl_alpn, F.req_ssl_ec_ext, F.req_ssl_st_ext = one("alpn"), one("ec_ext"), one("st_ext")
	-- _ssl_alpn_list is every ALPN name, which an ACL matches (HAProxy
	-- iterates over them); nil without them.
	F._ssl_alpn_list = function(s)
		local r = hello(s, "alpn")
		if r == nil then return nil end
		table.remove(r, 1)
		return r
	end
	-- _may_change returns true when a fetch recorded, since the last
	-- call, that its sample may change, else nil (a false would read as
	-- 0, a boolean sample); and clears it.
	F._may_change = function()
		local v = ctx.may_change
		ctx.may_change = nil
		return v
	end
end

function F.status(s)
	if s.status == 0 then return nil end
	return s.status
end
function F.res_hdr(s, name, occ)
	need_name("res.hdr", name)
	return occurrence(res_values(s, name), occ)
end
F.shdr = F.res_hdr
function F.res_fhdr(s, name, occ)
	need_name("res.fhdr", name)
	return occurrence(res_values(s, name, true), occ)
end
function F.res_hdr_cnt(s, name)
	need_name("res.hdr_cnt", name)
	return #res_values(s, name)
end


I.fetches = F
-- Stick counters. sc0, sc1 and sc2 are the counters a request tracks:
-- those its rules started (TXN:track_sc, what haproxy.cfg's track-scN
-- rules do) and, for sc0, the frontend's track (every connection's client
-- address); src_* look the client's address up in a table, the
-- frontend's own by default. Counters the table does not store give nil.
local function program_of(s)
	if s.entry == I.ENTRY_HTTP or s.entry == I.ENTRY_TCP then
		return I.programs[s.entry_arg]
	end
end

-- tracked holds, by stream (the coroutine's, one per request at a time),
-- the counters the request's rules track: [n] = {table, key}. It is
-- emptied when the request ends (end_tracking).
local tracked = setmetatable({}, { __mode = "k" })

-- sc_ref returns the table and the key of sticky counter ctr (key nil:
-- the client's address, from the frontend's track), or nil when it is
-- not tracked; tbl names another table to read the tracked key in.
local function sc_ref(s, ctr, tbl)
	ctr = tonumber(ctr)
	local t = tracked[s]
	local r = t and t[ctr]
	if r then return tbl or r[1], r[2] end
	local p = program_of(s)
	if ctr ~= 0 or p == nil or p.track_table == nil then return nil end
	return tbl or p.track_table, nil
end

local function src_table(s, tbl)
	local p = program_of(s)
	return tbl or (p and p.own_table)
end

-- stk calls the gate's op on key (nil: the client's address) in table
-- tbl: ... are the op's arguments after the key (edge/stick.go).
local function stk(tbl, s, op, key, ...)
	if tbl == nil then return nil end
	if op ~= "fetch" then
		-- A write: the counters Go copied into the stream are stale now.
		s.stk_have = 0
	end
	return I.gocall(I.go.stk, tostring(tbl), op, key or I.span(s, s.src), ...)
end

local is_http = { [I.ENTRY_HTTP] = "http" }

-- track starts counter n (0-2) of the request on key in table tbl, as
-- HAProxy's track-scN: a counter already tracked stays as it is, and a
-- key the table's type cannot hold is not tracked. The entry counts a
-- connection and, on HTTP, a request; it is released when the request's
-- exchange ends (request_ended). It returns whether the counter is
-- tracked now.
function I.track(s, n, key, tbl)
	n = tonumber(n)
	if n ~= 0 and n ~= 1 and n ~= 2 then error("track_sc: counter 0, 1 or 2 expected", 3) end
	if key == nil then return false end
	local p = program_of(s)
	tbl = tbl or (p and p.own_table)
	if tbl == nil then error("track_sc: no stick table (the frontend has none; name one)", 3) end
	local t = tracked[s]
	if (t and t[n]) or (n == 0 and p and p.track_table) then return false end
	local k = I.gocall(I.go.stk, tostring(tbl), "track", tostring(key), is_http[s.entry] or "")
	if k == nil then return false end
	if t == nil then
		t = {}
		tracked[s] = t
	end
	t[n] = { tbl, k }
	s.stk_have = 0
	return true
end

-- track_error counts an HTTP error for each counter the request's rules
-- track: HAProxy does for a denied request and a 4xx response.
function I.track_error(s)
	local t = tracked[s]
	if t == nil then return end
	for n = 0, 2 do
		local r = t[n]
		if r then I.gocall(I.go.stk, r[1], "error", r[2], "") end
	end
end

-- tracking reports whether the request's rules track counters.
function I.tracking(s) return tracked[s] ~= nil end

-- Persistence: what haproxy.cfg's use-server and stick rules do
-- (edge/persist.go is the Go half). The request keeps the first server
-- chosen (s.srv_be, s.srv_id), and its stick stores wait in s.stick until
-- the server takes the request, when Go writes the server into them.
local function backend_id(be, fname)
	local id = I.backend_ids[be]
	if id == nil then error(fname .. ": no backend named '" .. tostring(be) .. "'", 4) end
	return id
end

-- use_server chooses server of backend be, unless a server was chosen
-- already or this one is down or in maintenance.
function I.use_server(s, be, name)
	local id = backend_id(be, "use_server")
	if s.srv_id ~= 0 then return false end
	local sid = I.gocall(I.go.persist, "server", be, tostring(name), s.prst == 1)
	if sid == nil then return false end
	s.srv_be, s.srv_id = id, sid
	return true
end

-- set_persist records what the backend's force-persist or ignore-persist
-- rule decided: "force" (the persistence goes to its server even when it
-- is down or in maintenance) or "ignore" (the persistence cookie is
-- neither read nor set); the first call of a request counts, as HAProxy
-- applies the first rule that matches.
local persist_modes = { force = 1, ignore = 2 }
function I.set_persist(s, mode)
	local m = persist_modes[mode]
	if m == nil then error("set_persist: want 'force' or 'ignore'", 3) end
	if s.prst == 0 then s.prst = m end
end

-- stick_match looks key up in table tbl (be's own by default): its entry
-- is refreshed and, unless a server was chosen already, the server it
-- names is chosen if it is of be and neither down nor in maintenance.
-- It returns that server's name.
function I.stick_match(s, be, key, tbl)
	local id = backend_id(be, "stick_match")
	if key == nil then return nil end
	local sid, name = I.gocall(I.go.persist, "match", be, tostring(tbl or be), tostring(key), s.prst == 1)
	if sid == nil or s.srv_id ~= 0 then return nil end
	s.srv_be, s.srv_id = id, sid
	return name
end

-- stick_store makes key a pending store of table tbl (be's own by
-- default), unless the request has one for that table already (HAProxy
-- applies the first store rule of each table) or the table's type cannot
-- hold key. It returns whether the key is pending.
function I.stick_store(s, be, key, tbl)
	backend_id(be, "stick_store")
	if key == nil then return false end
	tbl = tostring(tbl or be)
	local k = I.gocall(I.go.persist, "key", tbl, tostring(key))
	if k == nil then return false end
	if s.stick.len > 0 then
		for t in ffi_string(s.stick.p, s.stick.len):gmatch("([^%z]*)%z[^%z]*%z") do
			if t == tbl then return false end
		end
	end
	local entry = tbl .. "\0" .. k .. "\0"
	if I.buf_append(s.stick, entry, #entry) ~= 0 then error("stick_store: out of memory", 3) end
	return true
end

-- stick_store_response writes the server that took the request (Go
-- recorded it in s.srv_id with the response head) into the entry of key
-- in table tbl (be's own by default), at once: the response is there. The
-- caller applies only the first store-response rule of each table, as
-- HAProxy does. It returns whether it stored the key.
function I.stick_store_response(s, be, key, tbl)
	local id = backend_id(be, "stick_store_response")
	if key == nil or s.srv_be ~= id or s.srv_id == 0 then return false end
	return I.gocall(I.go.persist, "store", be, tostring(tbl or be), tostring(key), s.srv_id) == true
end

-- Captures: the values a request keeps for its access log (%hr, %hs) and
-- the capture.req.hdr / capture.res.hdr fetches, by stream, in the slots
-- of its frontend (capture.request, capture.response): [side][id + 1] =
-- value, side 1 the request and 2 the response. Emptied when the request
-- ends.
local captured = setmetatable({}, { __mode = "k" })
local sides = { req = 1, res = 2 }

-- capture stores v in slot id (from 0) of side ("req" or "res") of the
-- request of s, cut to the slot's length. It raises an error for a slot
-- the frontend does not have.
function I.capture(s, side, id, v)
	local p = program_of(s)
	local slots = p and p[side == "req" and "cap_req" or "cap_res"]
	id = tonumber(id)
	local slot = slots and id and slots[id + 1]
	if slot == nil then
		error("capture: no " .. (side == "req" and "request" or "response") .. " capture slot " .. tostring(id) .. " in this frontend", 3)
	end
	if v == nil then return end
	v = tostring(v)
	if #v > slot.len then v = v:sub(1, slot.len) end
	local c = captured[s]
	if c == nil then
		c = { {}, {} }
		captured[s] = c
	end
	c[sides[side]][id + 1] = v
end

-- capture_headers fills the slots of a request (res false) or response
-- head that name a header: with the last value of the header, whole.
function I.capture_headers(s, slots, res)
	for i = 1, #slots do
		local h = slots[i].header
		if h then
			local vals = res and res_values(s, h, true) or req_values(s, h, true)
			if #vals > 0 then I.capture(s, res and "res" or "req", i - 1, vals[#vals]) end
		end
	end
end

-- cookie_capture is "name=value" of the first cookie of a Cookie (res
-- false) or Set-Cookie field value v whose "name=value" starts with
-- prefix, or nil, as HAProxy reads them: blanks around names, '=' and
-- values dropped, a value quoted or ending at ';' (or ',' in a Cookie
-- field), attributes starting with '$' and cookies without '=' skipped.
-- A Set-Cookie field holds one cookie: its attributes are not cookies.
local function cookie_capture(v, prefix, res)
	local pos, n = 1, #v
	while pos <= n do
		local name_b, eq = v:match("^[ \t]*()[^=,;]*()", pos)
		local name = v:sub(name_b, eq - 1):gsub("[ \t]+$", "")
		local next_pos
		if v:sub(eq, eq) == "=" then
			local val_b = v:match("^[ \t]*()", eq + 1)
			-- The value ends at a delimiter outside double quotes.
			local i, quoted = val_b, false
			while i <= n do
				local c = v:sub(i, i)
				if quoted then
					if c == "\\" then i = i + 1 elseif c == '"' then quoted = false end
				elseif c == '"' then quoted = true
				elseif c == ";" or c == "," then break end
				i = i + 1
			end
			local value = v:sub(val_b, i - 1):gsub("[ \t]+$", "")
			local c = name .. "=" .. value
			if name:sub(1, 1) ~= "$" and #c >= #prefix and c:sub(1, #prefix) == prefix then return c end
			next_pos = i + 1
		else
			next_pos = eq + 1
		end
		if res then return nil end
		pos = next_pos
	end
	return nil
end

-- capture_cookie stores the cookie the program of s captures (its
-- cap_cookie: {name =, len =}, if any) of the request (res false) or the
-- response, if it has one and none was captured yet: the first match
-- over the fields in order.
function I.capture_cookie(s, res)
	local p = program_of(s)
	local c = p and p.cap_cookie
	if c == nil then return end
	local t = captured[s]
	local side = res and 2 or 1
	if t and t[side].cookie then return end
	local vals = res and res_values(s, "set-cookie", true) or req_values(s, "cookie", true)
	for i = 1, #vals do
		local v = cookie_capture(vals[i], c.name, res)
		if v then
			if #v > c.len then v = v:sub(1, c.len) end
			if t == nil then
				t = { {}, {} }
				captured[s] = t
			end
			t[side].cookie = v
			return
		end
	end
end

-- captured_value returns the value captured in slot id of side, or nil.
function I.captured_value(s, side, id)
	local c = captured[s]
	return c and c[sides[side]][id + 1]
end

-- captured_cookie returns the cookie captured from the request (side
-- "req") or the response ("res"), or nil.
function I.captured_cookie(s, side)
	local c = captured[s]
	return c and c[sides[side]].cookie
end

F.capture_req_hdr = function(s, id) return I.captured_value(s, "req", tonumber(id)) end
F.capture_res_hdr = function(s, id) return I.captured_value(s, "res", tonumber(id)) end

-- received keeps, by stream, the method and target of the request as
-- they arrived, once a rule or script is about to rewrite them (the
-- request's spans then name the new ones): { method, target }. Cleared
-- when the request ends.
local received = setmetatable({}, { __mode = "k" })

-- keep_request_line saves the request line of s as it arrived, before
-- its first rewrite.
function I.keep_request_line(s)
	if received[s] == nil then received[s] = { I.span(s, s.method), I.span(s, s.target) } end
end

local function received_line(s)
	local r = received[s]
	if r then return r[1], r[2] end
	return I.span(s, s.method), I.span(s, s.target)
end

-- capture.req.method, capture.req.uri, capture.req.ver: HAProxy's copy of
-- the request line as received, which rewrites leave alone. The URI is
-- its path and query: none for "*", an authority (CONNECT) or an
-- absolute URI without a path. The version is "HTTP/1.1" from 1.1 on
-- (HTTP/2 too, as HAProxy flags it), else "HTTP/1.0".
function F.capture_req_method(s) return (received_line(s)) end
function F.capture_req_uri(s)
	local _, t = received_line(s)
	if t == nil or t:byte() == 47 then return t end -- "/"
	local rest = t:match("^%a[%w+.-]*://(.*)$")
	if rest == nil then return nil end
	local i = rest:find("/", 1, true)
	if i == nil then return nil end
	return rest:sub(i)
end
-- capture_req_target (a luaedge addition): the target as it arrived,
-- whole, as the log's and the rules' %HU read it.
function F.capture_req_target(s)
	local _, t = received_line(s)
	return t
end
function F.capture_req_ver(s)
	if s.major > 1 or s.major == 1 and s.minor >= 1 then return "HTTP/1.1" end
	return "HTTP/1.0"
end

-- capture.res.ver: the version of the response the rules see, from a
-- server or a service, as HAProxy flags it ("HTTP/1.1" from 1.1 on);
-- none before it, and for an answer luaedge made (return, deny, a 503).
function F.capture_res_ver(s)
	if s.res_ver == 0 then return nil end
	if s.res_ver >= 11 then return "HTTP/1.1" end
	return "HTTP/1.0"
end

-- res.ver: the version of that response, "1.0", "1.1", "2.0".
function F.res_ver(s)
	if s.res_ver == 0 then return nil end
	local v = s.res_ver
	return (v - v % 10) / 10 .. "." .. v % 10
end
F.resp_ver = F.res_ver

-- request_ended releases what the request held here: its captures, and
-- the stick entries it tracked, which go to Go (s.untrack) to release
-- (conn_cur) when the exchange ends, after the response's body.
function I.request_ended(s)
	if captured[s] ~= nil then captured[s] = nil end
	if received[s] ~= nil then received[s] = nil end
	local t = tracked[s]
	if t == nil then return end
	tracked[s] = nil
	for n = 0, 2 do
		local r = t[n]
		if r then
			local e = tostring(r[1]) .. "\0" .. r[2] .. "\0"
			if I.buf_append(s.untrack, e, #e) ~= 0 then error("track_sc: out of memory", 0) end
		end
	end
end

-- The counters of the tracking table (sc0) Go copied into the stream
-- before the request's first resume (le_stream.stk; see lj/fastpath.go
-- for when they are fresh). stk_copied returns found=true and the value
-- (nil when the table does not store the counter) when counter slot i is
-- there, and otherwise asks Go to copy it for the next requests.
local band, bor, lshift = bit.band, bit.bor, bit.lshift
local loop = I.loop
local function stk_copied(s, i)
	local b = lshift(1, i)
	if band(s.stk_have, b) ~= 0 then
		if band(s.stk_none, b) ~= 0 then return true, nil end
		return true, s.stk[i]
	end
	if band(loop.stk_want, b) == 0 then loop.stk_want = bor(loop.stk_want, b) end
	return false
end

-- fetch name suffix -> stored counter
local stk_counters = {
	conn_cnt = "conn_cnt", conn_cur = "conn_cur", conn_rate = "conn_rate",
	http_req_cnt = "http_req_cnt", http_req_rate = "http_req_rate",
	http_err_cnt = "http_err_cnt", http_err_rate = "http_err_rate",
	get_gpc0 = "gpc0", gpc0_rate = "gpc0_rate", get_gpt0 = "gpt0",
	get_gpc1 = "gpc1", gpc1_rate = "gpc1_rate",
	kbytes_in = "bytes_in_cnt", kbytes_out = "bytes_out_cnt",
	-- Not copied into the stream (no slot): asked for each time.
	bytes_in_rate = "bytes_in_rate", bytes_out_rate = "bytes_out_rate",
	http_fail_cnt = "http_fail_cnt", http_fail_rate = "http_fail_rate",
	sess_cnt = "sess_cnt", sess_rate = "sess_rate",
}
for name, counter in pairs(stk_counters) do
	local kbytes = counter == "bytes_in_cnt" or counter == "bytes_out_cnt"
	local slot = I.stick_slots[counter]
	-- get reads the counter of key (nil: the client's address) in table
	-- tbl; copied says tbl is the frontend's tracking table, whose
	-- counters may have been copied in.
	local function get(tbl, key, s, copied)
		if tbl == nil then return nil end
		local found, v
		if copied and slot then found, v = stk_copied(s, slot) end
		if not found then v = stk(tbl, s, "fetch", key, counter) end
		if kbytes and v ~= nil then v = math.floor(v / 1024) end
		return v
	end
	local function sc(s, ctr, tbl)
		local t, key = sc_ref(s, ctr, tbl)
		return get(t, key, s, t ~= nil and key == nil and tbl == nil)
	end
	F["sc_" .. name] = sc
	for n = 0, 2 do
		F["sc" .. n .. "_" .. name] = function(s, tbl) return sc(s, n, tbl) end
	end
	F["src_" .. name] = function(s, tbl)
		local t = src_table(s, tbl)
		local p = program_of(s)
		return get(t, nil, s, p ~= nil and t == p.track_table)
	end
end
-- sc_inc_gpc0 and friends: the gate's op and the counter's index.
for name, op in pairs({ inc_gpc0 = { "inc_gpc", 0 }, clr_gpc0 = { "clr_gpc", 0 },
	inc_gpc1 = { "inc_gpc", 1 }, clr_gpc1 = { "clr_gpc", 1 } }) do
	local function sc(s, ctr, tbl)
		local t, key = sc_ref(s, ctr, tbl)
		return stk(t, s, op[1], key, op[2], "")
	end
	F["sc_" .. name] = sc
	for n = 0, 2 do
		F["sc" .. n .. "_" .. name] = function(s, tbl) return sc(s, n, tbl) end
	end
	F["src_" .. name] = function(s, tbl) return stk(src_table(s, tbl), s, op[1], nil, op[2], "") end
end

-- The arrays' fetches, with the element's index first: sc_get_gpc(idx,
-- ctr[, table]), src_get_gpc(idx[, table])... An element reads only from
-- its array (not from gpc0, gpc1 or gpt0), as HAProxy's.
local function array_index(idx)
	idx = tonumber(idx)
	if idx == nil or idx < 0 or idx > 99 or idx % 1 ~= 0 then return nil end
	return idx
end
for name, a in pairs({ get_gpc = { "gpc", "" }, gpc_rate = { "gpc_rate", "_rate" }, get_gpt = { "gpt", "" } }) do
	local prefix = a[1] == "gpt" and "gpt" or "gpc"
	local function get(t, key, s, idx)
		idx = array_index(idx)
		if idx == nil then return nil end
		return stk(t, s, "fetch", key, prefix .. idx .. a[2], a[1], idx)
	end
	F["sc_" .. name] = function(s, idx, ctr, tbl)
		local t, key = sc_ref(s, ctr, tbl)
		return get(t, key, s, idx)
	end
	F["src_" .. name] = function(s, idx, tbl) return get(src_table(s, tbl), nil, s, idx) end
end
for _, op in ipairs({ "inc_gpc", "clr_gpc" }) do
	F["sc_" .. op] = function(s, idx, ctr, tbl)
		idx = array_index(idx)
		local t, key = sc_ref(s, ctr, tbl)
		if idx == nil then return nil end
		return stk(t, s, op, key, idx, "array")
	end
	F["src_" .. op] = function(s, idx, tbl)
		idx = array_index(idx)
		if idx == nil then return nil end
		return stk(src_table(s, tbl), s, op, nil, idx, "array")
	end
end

-- set_gpt sets tag idx (of the array gpt when array, else gpt0, or gpt's
-- first element) of sticky counter ctr to v, as the sc-set-gpt0 and
-- sc-set-gpt actions: a boolean v is 1 or 0; nothing when the counter is
-- not tracked or v is not a number.
function I.set_gpt(s, idx, array, ctr, v)
	local t, key = sc_ref(s, ctr)
	if type(v) == "boolean" then v = v and 1 or 0 end
	v = tonumber(v)
	if t == nil or v == nil then return end
	if v ~= v then return end
	stk(t, s, "set_gpt", key, idx, array and "array" or "", v)
end

-- Cookies. req_cook(name): the value of the last cookie called name in
-- the request's Cookie fields (no name: the first cookie's); res_cook:
-- the same in the response's Set-Cookie fields, one cookie each.
local function cookies(vals, each_field)
	local out = {}
	for _, v in ipairs(vals) do
		for pair in v:gmatch("[^;]+") do
			local name, value = pair:match("^%s*([^=]-)%s*=%s*(.-)%s*$")
			if name then out[#out + 1] = { name, value } end
			if each_field then break end -- a Set-Cookie's attributes follow
		end
	end
	return out
end

local function cook_value(list, name)
	if name == nil then return list[1] and list[1][2] end
	for i = #list, 1, -1 do
		if list[i][1] == name then return list[i][2] end
	end
	return nil
end

local function cook_count(list, name)
	local n = 0
	for _, c in ipairs(list) do
		if name == nil or c[1] == name then n = n + 1 end
	end
	return n
end

local function int_of(v)
	if v == nil then return nil end
	local sign, digits = v:match("^([+-]?)(%d*)")
	local n = tonumber(digits) or 0
	if sign == "-" then n = -n end
	return n
end

local function req_cookies(s) return cookies(req_values(s, "cookie", true), false) end
local function res_cookies(s) return cookies(res_values(s, "set-cookie", true), true) end
function F.req_cook(s, name) return cook_value(req_cookies(s), name) end
function F.req_cook_cnt(s, name) return cook_count(req_cookies(s), name) end
function F.req_cook_val(s, name) return int_of(cook_value(req_cookies(s), name)) end
function F.res_cook(s, name) return cook_value(res_cookies(s), name) end
function F.res_cook_cnt(s, name) return cook_count(res_cookies(s), name) end
function F.res_cook_val(s, name) return int_of(cook_value(res_cookies(s), name)) end
F.cook, F.cook_cnt, F.cook_val = F.req_cook, F.req_cook_cnt, F.req_cook_val
F.scook, F.scook_cnt, F.scook_val = F.res_cook, F.res_cook_cnt, F.res_cook_val

-- url_param(name[, delim]): the value of the first parameter called name
-- in the query string (no name: of the first one); urlp is its old name.
function F.url_param(s, name, delim)
	if s.query.len == 0 then return nil end
	local q = I.span(s, s.query)
	local sep = (type(delim) == "string" and delim ~= "") and delim:sub(1, 1) or "&"
	local pos = 1
	while pos <= #q + 1 do
		local e = q:find(sep, pos, true) or #q + 1
		local part = q:sub(pos, e - 1)
		local eq = part:find("=", 1, true)
		local k, v = part, ""
		if eq then k, v = part:sub(1, eq - 1), part:sub(eq + 1) end
		if name == nil or k == name then return v end
		pos = e + 1
	end
	return nil
end
F.urlp = F.url_param

-- The frontend's and backend's names: the backend is the one a script or
-- the routing chose, and until then the frontend, as in HAProxy.
local backend_names = {}
local function backend_name(i)
	if backend_names[i] == nil then
		for name, id in pairs(I.backend_ids) do backend_names[id] = name end
	end
	return backend_names[i]
end
function F.fe_name(s)
	local p = program_of(s)
	return p and p.frontend
end
function F.be_name(s)
	if s.backend >= 0 then return backend_name(s.backend) end
	return F.fe_name(s)
end

-- srv_id and srv_name: the server that took the request (its position in
-- its backend, HAProxy's puid, and its name); none before one did.
function F.srv_id(s)
	if s.srv_id == 0 then return nil end
	return s.srv_id
end
function F.srv_name(s)
	if s.srv_id == 0 then return nil end
	local px = core.backends[backend_name(s.srv_be) or ""]
	if px == nil then return nil end
	for name, srv in pairs(px.servers) do
		if tonumber(srv.puid) == s.srv_id then return name end
	end
	return nil
end

-- res.cache_hit, res.cache_name: the response came from a cache (HAProxy's
-- cache sections), and its name; no name otherwise.
function F.res_cache_hit(s) return s.cache_hit > 0 end
function F.res_cache_name(s)
	if s.cache_hit > 0 then return I.cache_names[s.cache_hit - 1] end
	return nil
end

-- uuid([version]): a random UUID; version 4 is the only one, as in HAProxy.
function F.uuid(s, version)
	if version ~= nil and tonumber(version) ~= 4 then return nil end
	return I.gocall(I.go.uuid)
end

function F.sc_tracked(s, ctr) return sc_ref(s, ctr) ~= nil end
for n = 0, 2 do
	F["sc" .. n .. "_tracked"] = function(s) return sc_ref(s, n) ~= nil end
end

-- HAProxy 2.6 fetches beyond the request's own fields: constants, the
-- process, the frontends, backends and servers, more of the HTTP message
-- and of the stick counters. Arguments are checked when called, with
-- HAProxy's Lua errors: a type it does not take, a proxy, server or
-- table it does not find, or "error in arguments" for a value its check
-- refuses.
local getenv, random, floor, getinfo = os.getenv, math.random, math.floor, debug.getinfo

-- raise raises msg at the script's call: the first caller outside this
-- file, however deep the check that failed.
local this_file = getinfo(1, "S").source
local function raise(msg)
	local level = 2
	while true do
		local info = getinfo(level, "S")
		if info == nil or info.source ~= this_file then error(msg, level) end
		level = level + 1
	end
end

local function arg_error(fname, i, msg)
	raise("bad argument #" .. i .. " to '" .. fname .. "' (" .. msg .. ")")
end

-- str_arg is argument i of fetch fname, which must be a string: HAProxy
-- does not make a number one.
local function str_arg(fname, i, v)
	if type(v) ~= "string" then arg_error(fname, i, "unable to duplicate string arg") end
	return v
end

-- int_arg is argument i of fetch fname, a number (cut to an integer).
local function int_arg(fname, i, v)
	if type(v) ~= "number" then arg_error(fname, i, "integer expected") end
	if v >= 0 then return floor(v) end
	return -floor(-v)
end

local function bad_value() raise("error in arguments") end

-- addr_family is 4 or 6 for an address (without a mask), else nil.
local function addr_family(v)
	if type(v) ~= "string" or find(v, "/", 1, true) then return nil end
	return (I.gocall(I.go.addr_parse, v))
end

function F.always_true() return true end
function F.always_false() return false end
function F.int(s, n) return int_arg("int", 1, n) end
function F.str(s, v) return str_arg("str", 1, v) end
-- bool("true"|"1"|"false"|"0"), as HAProxy's check of its argument.
function F.bool(s, v)
	v = str_arg("bool", 1, v)
	if v == "true" or v == "1" then return true end
	if v == "false" or v == "0" then return false end
	bad_value()
end
function F.bin(s, hex)
	hex = str_arg("bin", 1, hex)
	if #hex % 2 == 1 or find(hex, "[^%x]") then bad_value() end
	return (hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end))
end
function F.ipv4(s, v)
	if addr_family(v) ~= 4 then arg_error("ipv4", 1, "invalid IPv4 address") end
	return v
end
function F.ipv6(s, v)
	if addr_family(v) ~= 6 then arg_error("ipv6", 1, "invalid IPv6 address") end
	return v
end
function F.meth(s, v) return str_arg("meth", 1, v) end
-- env(name): the process's environment variable, none when unset. Not
-- with the strict sandbox, which keeps the environment from scripts.
function F.env(s, name)
	name = str_arg("env", 1, name)
	if I.sandbox_strict then raise("fetch 'env' is not available with lua.sandbox strict") end
	return getenv(name)
end
-- date([offset[, unit]]): the current date in seconds since the epoch,
-- plus offset, in unit "s" (the default), "ms" or "us".
local date_units = { s = 1, ms = 1e3, us = 1e6 }
function F.date(s, offset, unit)
	local mul = date_units[unit or "s"]
	if mul == nil then bad_value() end
	local t = floor(I.now_us() / 1e6 * mul)
	if offset ~= nil then t = t + int_arg("date", 1, offset) * mul end
	return t
end
function F.date_us() return floor(I.now_us()) % 1000000 end
-- rand([range]): a random 32-bit integer, or one from 0 to range - 1.
function F.rand(s, range)
	local r = random(0, 4294967295)
	if range ~= nil then return floor(r * int_arg("rand", 1, range) / 4294967296) end
	return r
end
-- hostname: the system's (the kernel's, read once).
local io_open, hostname = io.open, nil
function F.hostname()
	if hostname == nil then
		local f = io_open("/proc/sys/kernel/hostname")
		if f == nil then return nil end
		hostname = f:read("*l")
		f:close()
	end
	return hostname
end
-- One process; the thread is the core's, from 0 (core.thread counts from 1).
function F.nbproc() return 1 end
function F.proc() return 1 end
function F.thread() return core.thread - 1 end

-- The frontend's and the backend's id (its uuid); the backend's is the
-- frontend's until one was chosen.
local function proxy_id(px) return px and tonumber(px.uuid) end
function F.fe_id(s) return proxy_id(core.frontends[F.fe_name(s) or ""]) end
function F.be_id(s)
	if s.backend >= 0 then return proxy_id(core.backends[backend_name(s.backend) or ""]) end
	return F.fe_id(s)
end

-- named_backend is the backend named by argument 1 of fetch fname, with
-- its statistics.
local function named_backend(fname, name)
	if name == nil then arg_error(fname, 1, "Mandatory argument expected") end
	local px = core.backends[str_arg(fname, 1, name)]
	if px == nil then arg_error(fname, 1, "backend doesn't exist") end
	return px, px:get_stats()
end

-- named_server is the server "backend/server" of argument 1.
local function named_server(fname, name)
	if name == nil then arg_error(fname, 1, "Mandatory argument expected") end
	local be, sv = str_arg(fname, 1, name):match("^([^/]*)/(.*)$")
	local px = be and core.backends[be]
	local srv = px and px.servers[sv]
	if srv == nil then arg_error(fname, 1, "server doesn't exist") end
	return srv, srv:get_stats()
end

-- usable is HAProxy's count of a backend's usable servers: the active
-- ones, else the first backup.
local function usable(st)
	if st.act > 0 then return st.act end
	if st.bck > 0 then return 1 end
	return 0
end

function F.nbsrv(s, be)
	local _, st = named_backend("nbsrv", be)
	return usable(st)
end
-- usable_servers is nbsrv for the nbsrv converter: nil for no backend.
function I.usable_servers(name)
	local px = core.backends[name]
	return px and usable(px:get_stats())
end
function F.be_conn(s, be)
	local _, st = named_backend("be_conn", be)
	return st.scur
end
function F.queue(s, be)
	local _, st = named_backend("queue", be)
	return st.qcur
end
function F.avg_queue(s, be)
	local _, st = named_backend("avg_queue", be)
	local n = usable(st)
	if n > 0 then return floor((st.qcur + n - 1) / n) end
	return st.qcur * 2
end
-- be_conn_free and connslots: what the servers that can take requests
-- have left before their maxconn; -1 when one of them has none.
local function free_slots(fname, be)
	local px = named_backend(fname, be)
	local n = 0
	for _, srv in pairs(px.servers) do
		local st = srv:get_stats()
		if st.status ~= "DOWN" and st.status ~= "MAINT" then
			if st.slim == nil then return -1 end
			if st.slim > st.scur then n = n + st.slim - st.scur end
		end
	end
	return n
end
function F.be_conn_free(s, be) return free_slots("be_conn_free", be) end
function F.connslots(s, be) return free_slots("connslots", be) end

-- fe_conn(frontend): the connections the frontend has open.
function F.fe_conn(s, name)
	if name == nil then arg_error("fe_conn", 1, "Mandatory argument expected") end
	local px = core.frontends[str_arg("fe_conn", 1, name)]
	if px == nil then arg_error("fe_conn", 1, "frontend doesn't exist") end
	return px:get_stats().scur
end

-- srv_is_up: neither in maintenance nor found down by its checks.
function F.srv_is_up(s, name)
	local _, st = named_server("srv_is_up", name)
	return st.status ~= "MAINT" and st.status ~= "DOWN"
end
function F.srv_conn(s, name)
	local _, st = named_server("srv_conn", name)
	return st.scur
end
-- luaedge queues requests in the backend, none for a server.
function F.srv_queue(s, name)
	named_server("srv_queue", name)
	return 0
end
function F.srv_conn_free(s, name)
	local _, st = named_server("srv_conn_free", name)
	if st.slim == nil then return -1 end
	if st.slim > st.scur then return st.slim - st.scur end
	return 0
end
-- The server's weight: luaedge's servers have one, the same for
-- HAProxy's effective, user and initial weights until changed.
function F.srv_weight(s, name)
	local srv = named_server("srv_weight", name)
	return srv:get_weight()
end
F.srv_uweight, F.srv_iweight = F.srv_weight, F.srv_weight

-- table_cnt(table) and table_avl(table): the entries a stick table holds
-- and how many more it can (the frontend's or backend's of that name).
local function table_info(fname, tbl)
	local px = core.proxies[tostring(tbl)]
	if tbl == nil then arg_error(fname, 1, "Mandatory argument expected") end
	if px == nil or px.stktable == nil then arg_error(fname, 1, "table doesn't exist") end
	return px.stktable:info()
end
function F.table_cnt(s, tbl) return table_info("table_cnt", tbl).used end
function F.table_avl(s, tbl)
	local info = table_info("table_avl", tbl)
	return info.size - info.used
end

-- More of the HTTP message.
-- hdr_val: the integer at the start of the value (0 without digits).
local function int_val(v)
	if v == nil then return nil end
	return tonumber(match(v, "^[+-]?%d+")) or 0
end
-- ip_val: a dotted IPv4 address at the value's start (a port may follow),
-- else a whole IPv6 address.
local function ip_val(v)
	if v == nil then return nil end
	local v4 = match(v, "^%d+%.%d+%.%d+%.%d+")
	if v4 and addr_family(v4) == 4 then return v4 end
	if find(v, ":", 1, true) and addr_family(v) == 6 then return v end
	return nil
end
function F.req_hdr_val(s, name, occ) return int_val(F.req_hdr(s, name, occ)) end
function F.res_hdr_val(s, name, occ) return int_val(F.res_hdr(s, name, occ)) end
function F.req_hdr_ip(s, name, occ) return ip_val(F.req_hdr(s, name, occ)) end
function F.res_hdr_ip(s, name, occ) return ip_val(F.res_hdr(s, name, occ)) end
F.hdr_val, F.shdr_val, F.hdr_ip, F.shdr_ip = F.req_hdr_val, F.res_hdr_val, F.req_hdr_ip, F.res_hdr_ip
function F.req_fhdr_cnt(s, name)
	need_name("req.fhdr_cnt", name)
	return #req_values(s, name, true)
end
function F.res_fhdr_cnt(s, name)
	need_name("res.fhdr_cnt", name)
	return #res_values(s, name, true)
end
F.shdr_cnt = F.res_hdr_cnt
-- hdr_names([delim]): the fields' names in order, lower-case, joined by
-- delim (a comma by default).
local function hdr_names(base, fields, n, delim)
	local out = {}
	for i = 0, n - 1 do
		local f = fields[i]
		out[#out + 1] = ffi_string(base + f.name.off, f.name.len):lower()
	end
	return table.concat(out, delim or ",")
end
function F.req_hdr_names(s, delim) return hdr_names(s.head.p, s.fields, s.nfields, delim) end
function F.res_hdr_names(s, delim)
	if s.status == 0 then return nil end
	return hdr_names(s.resp.p, s.rfields, s.nrfields, delim)
end
-- with_query is v followed by the request's query string, if it has one.
local function with_query(s, v)
	if v == nil then return nil end
	local q = F.query(s)
	if q ~= nil then v = v .. "?" .. q end
	return v
end
function F.pathq(s) return with_query(s, F.path(s)) end
function F.baseq(s) return with_query(s, F.base(s)) end
F.cookie = F.req_cook
function F.urlp_val(s, name, delim) return int_val(F.url_param(s, name, delim)) end
-- base32 and url32: HAProxy's hash (sdbm, then avalanched) of the Host
-- field and the path (base32), or the whole path and query (url32).
local function hash32(str)
	local defs = I.converter_defs
	return defs.sdbm.fn(str, 1)
end
local function host(s)
	local h = req_values(s, "host", true)
	return h[#h] or ""
end
function F.base32(s)
	local p = F.path(s)
	if p:byte() ~= 47 then p = "" end
	return hash32(host(s) .. p)
end
function F.url32(s)
	local p = F.pathq(s)
	if p:byte() ~= 47 then p = "" end
	return hash32(host(s) .. p)
end
-- base32+src and url32+src: the hash (4 bytes, big-endian) followed by
-- the client's address (4 or 16 bytes).
local function be32(n)
	return string.char(floor(n / 16777216) % 256, floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end
local function with_src(s, hash)
	local r = { I.gocall(I.go.addr_parse, I.span(s, s.src)) }
	if r[1] == 4 then return be32(hash) .. be32(r[3]) end
	if r[1] == 6 then return be32(hash) .. be32(r[3]) .. be32(r[4]) .. be32(r[5]) .. be32(r[6]) end
	return nil
end
function F.base32_src(s) return with_src(s, F.base32(s)) end
function F.url32_src(s) return with_src(s, F.url32(s)) end
-- req.hdrs and res.hdrs: the fields as HTTP/1 writes them, names in lower
-- case, and the empty line after them.
local function hdrs(base, fields, n)
	local out = {}
	for i = 0, n - 1 do
		local f = fields[i]
		out[#out + 1] = ffi_string(base + f.name.off, f.name.len):lower() .. ": " .. ffi_string(base + f.value.off, f.value.len) .. "\r\n"
	end
	out[#out + 1] = "\r\n"
	return table.concat(out)
end
function F.req_hdrs(s) return hdrs(s.head.p, s.fields, s.nfields) end
function F.res_hdrs(s)
	if s.status == 0 then return nil end
	return hdrs(s.resp.p, s.rfields, s.nrfields)
end

-- url_ip and url_port: the address and the port of an absolute-form
-- target ("http://10.0.0.1:81/"); the port is 80 when not written. None
-- for a target in origin form.
local function url_authority(s)
	return match(I.span(s, s.target), "^[%a][%w+.-]*://([^/?#]*)")
end
function F.url_ip(s)
	local a = url_authority(s)
	local ip = a and match(a, "^([%d.]+)")
	if ip and addr_family(ip) == 4 then return ip end
	return nil
end
function F.url_port(s)
	local a = url_authority(s)
	if a == nil then return nil end
	return tonumber(match(a, ":(%d+)$")) or 80
end
-- The Authorization field's scheme, and Basic's user and password.
local function auth_parts(s)
	local v = req_values(s, "authorization", true)
	v = v[#v]
	local scheme, rest = match(v or "", "^%s*(%S+)%s*(.-)%s*$")
	if scheme == nil then return nil end
	if scheme:lower() ~= "basic" then return scheme end
	local dec = I.converter_defs.b64dec.fn(rest) or ""
	local user, pass = match(dec, "^([^:]*):(.*)$")
	return scheme, user, pass
end
function F.http_auth_type(s) return (auth_parts(s)) end
function F.http_auth_user(s)
	local _, user = auth_parts(s)
	return user
end
function F.http_auth_pass(s)
	local _, _, pass = auth_parts(s)
	return pass
end
function F.http_auth_bearer(s, name)
	local v = req_values(s, type(name) == "string" and name or "authorization", true)
	local scheme, token = match(v[#v] or "", "^%s*(%S+)%s+(.-)%s*$")
	if scheme and scheme:lower() == "bearer" then return token end
	return nil
end
-- The request's body as far as it was received (req.body reads the same).
function F.req_body_len(s) return s.body.len - s.body_pos end
function F.req_body_size(s)
	if s.content_length >= 0 then return tonumber(s.content_length) end
	return s.body.len - s.body_pos
end
-- req.body_param([name]): as url_param, in a form-encoded body.
function F.req_body_param(s, name)
	local body = F.req_body(s)
	for part in (body .. "&"):gmatch("(.-)&") do
		local k, v = match(part, "^([^=]*)=?(.*)$")
		if name == nil or k == name then return v end
	end
	return nil
end
-- trackers: how many connections and requests track the entry (none
-- when the counter is not tracked). The gate's count includes its own
-- look-up, as the table_trackers converter's does in HAProxy.
local function trackers(t, key, s)
	if t == nil then return nil end
	local v = stk(t, s, "peek", key, "trackers")
	if v == false then return 0 end
	return v and v - 1
end
function F.sc_trackers(s, ctr, tbl)
	local t, key = sc_ref(s, ctr, tbl)
	return trackers(t, key, s)
end
for n = 0, 2 do
	F["sc" .. n .. "_trackers"] = function(s, tbl) return F.sc_trackers(s, n, tbl) end
end
-- HAProxy 2.6 has this one form of sc_clr_gpc with the counter in its name.
function F.sc1_clr_gpc(s, idx, tbl) return F.sc_clr_gpc(s, idx, 1, tbl) end
-- END of HAProxy 2.6 fetches

I.lua_fetches = {} -- name -> accounting record (with fn), from core.register_fetches

-- The fetches that read HTTP messages (HAProxy 2.6's with an SMP_USE_HRQ*
-- or SMP_USE_HRS* source), by method name ("." "-" "+" made "_"), with
-- their keyword: a service's applet.f and applet.sf refuse them, as
-- HAProxy's do (its services have no HTTP transaction to read; the
-- applet's own fields, applet.path, applet.headers..., are there).
local http_fetches = {}
for kw in ([[base base32 base32+src baseq capture.req.hdr capture.req.method
	capture.req.uri capture.req.ver capture.res.hdr capture.res.ver cook cook_cnt
	cook_val cookie hdr hdr_cnt hdr_ip hdr_val http_auth http_auth_bearer
	http_auth_group http_auth_pass http_auth_type http_auth_user http_first_req
	method path pathq query req.body req.body_len req.body_param req.body_size
	req.cook req.cook_cnt req.cook_val req.fhdr req.fhdr_cnt req.hdr req.hdr_cnt
	req.hdr_ip req.hdr_names req.hdr_val req.hdrs req.hdrs_bin req.proto_http
	req.ver req_proto_http req_ver res.body res.body_len res.body_size
	res.cache_hit res.cache_name res.comp res.comp_algo res.cook res.cook_cnt
	res.cook_val res.fhdr res.fhdr_cnt res.hdr res.hdr_cnt res.hdr_ip
	res.hdr_names res.hdr_val res.hdrs res.hdrs_bin res.ver resp_ver scook
	scook_cnt scook_val shdr shdr_cnt shdr_ip shdr_val status url url32 url32+src
	url_ip url_param url_port urlp urlp_val]]):gmatch("%S+") do
	http_fetches[kw:gsub("[.+-]", "_")] = kw
end

-- new_fetches builds the object a TXN or applet exposes as f
-- (strings=false) or sf (strings=true: every result is a string, "" when
-- there is none). obj is made once per coroutine, and so is this object.
-- A method is made on first use and kept in the object, so later calls
-- are a plain field read: making a closure on each call kept the
-- request's code out of LuaJIT's traces. The stream is looked up in the
-- context on each call: the object may outlive the coroutine. A
-- service's (service=true) refuses the HTTP fetches.
function I.new_fetches(obj, strings, service)
	local ctx = I.owner[obj]
	local fobj = {}
	local function stream()
		local s = ctx and ctx.s
		if s == nil then error("fetch: the request of this object has ended", 3) end
		return s
	end
	-- var(name) and res_len need the request's context, not only the
	-- stream: res.len is the server's input during tcp-response rules
	-- (what they did not pass on), 0 before them, and unknown in HTTP.
	local F = setmetatable({
		var = function(s, name) return I.vars.get(ctx, s, name) end,
		res_len = function(s)
			if not ctx.tcp then return nil end
			if ctx.tcp_stage ~= "res" then return 0 end
			return s.body.len - s.body_pos - (ctx.passed or 0)
		end,
	}, { __index = F })
	I.input_fetches(ctx, F)
	local function method(k)
		local fn = F[k]
		local kw = service and http_fetches[k]
		if kw then
			return function()
				error("the sample-fetch '" .. kw .. "' needs an HTTP parser which is not available in Lua services", 2)
			end
		end
		if fn == nil then
			local name = type(k) == "string" and k:match("^lua[._](.+)$")
			local st = name and I.lua_fetches[name]
			if st == nil then
				error("unknown fetch '" .. tostring(k) .. "'", 3)
			end
			fn = function(self, ...)
				stream()
				return I.call_script(st, ctx, st.fn, obj, ...)
			end
			if strings then
				return function(self, ...)
					local v = fn(self, ...)
					if v == nil then return "" end
					return tostring(v)
				end
			end
			return fn
		end
		if strings then
			return function(self, ...)
				if self ~= fobj then error("fetch '" .. k .. "' must be called with ':'", 2) end
				local v = fn(stream(), ...)
				if v == nil then return "" end
				if v == true then return "1" elseif v == false then return "0" end
				return tostring(v)
			end
		end
		return function(self, ...)
			if self ~= fobj then error("fetch '" .. k .. "' must be called with ':'", 2) end
			local v = fn(stream(), ...)
			-- A boolean sample is an integer in HAProxy's Lua.
			if v == true then return 1 elseif v == false then return 0 end
			return v
		end
	end
	return setmetatable(fobj, {
		__index = function(self, k)
			local m = method(k)
			rawset(self, k, m)
			return m
		end,
	})
end

-- core.register_fetches(name, fn): fn(txn, args...) is then txn.f:lua_NAME().
function core.register_fetches(name, fn)
	I.check_type("core.register_fetches", 1, name, "string")
	I.check_type("core.register_fetches", 2, fn, "function")
	I.lua_fetches[name] = I.record("fetch", name, fn)
end
