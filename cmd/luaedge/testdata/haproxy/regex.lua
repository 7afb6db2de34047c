-- The Regex class. Regexes are compiled in the body context, as HAProxy's
-- documentation advises; the service reports what they do.
--
-- use_service: lua.regex_service

local ok_needle, needle = Regex.new("needle (..) (...)", true)
local _, hello_cs = Regex.new("^hello", true)
local _, hello_ci = Regex.new("^hello", false)
local _, optional = Regex.new("(a)(x)?(b)", true)
local bad_ok, bad_err = Regex.new("(unclosed", true)
-- Lookahead is a PCRE feature; luaedge's regexes (RE2 syntax) refuse it.
local pcre_ok, pcre_err = Regex.new("foo(?=bar)", true)

local function join(list)
	local parts = {}
	for i = 1, #list do parts[#parts + 1] = tostring(list[i]) end
	return table.concat(parts, "|")
end

core.register_service("regex_service", "http", function(applet)
	local out = {}
	local function add(k, v) out[#out + 1] = k .. "=" .. tostring(v) end
	add("new_status", ok_needle)
	add("exec_hit", needle:exec("Looking for a needle in the haystack"))
	add("exec_miss", needle:exec("Lokking for a cat in the haystack"))
	local st, list = needle:match("Looking for a needle in the haystack")
	add("match_status", st)
	add("match_list", join(list))
	st, list = needle:match("nothing here")
	add("nomatch_status", st)
	add("nomatch_count", #list)
	st, list = optional:match("ab")
	add("optional_group", join(list))
	add("case_sensitive", hello_cs:exec("HELLO world"))
	add("case_insensitive", hello_ci:exec("HELLO world"))
	add("bad_status", bad_ok)
	add("bad_reason_type", type(bad_err))
	add("pcre_status", pcre_ok)
	add("pcre_reason", pcre_err)
	local body = table.concat(out, "\n") .. "\n"
	applet:set_status(200)
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
