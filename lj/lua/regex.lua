-- Regex: HAProxy's Regex class.
-- Reference: HAProxy Lua API, class Regex.
-- Patterns are compiled in Go with RE2 syntax (lj/regex.go lists what PCRE
-- has and RE2 lacks); the object holds the id of the compiled regex, freed
-- when the object is collected.
local I = ...
setfenv(1, I.env)

local type, tostring, error, setmetatable, getmetatable, newproxy = type, tostring, error, setmetatable, getmetatable, newproxy
local gocall, GO = I.gocall, I.go

local Regex = {}
local methods = {}
local regex_mt = {
	__index = methods,
	__tostring = function(r) return "Regex: " .. r.pattern end,
}

-- Regex.new(pattern[, case_sensitive]) returns true and a Regex object, or
-- false and why the pattern does not compile (as HAProxy). case_sensitive
-- defaults to true.
function Regex.new(pattern, case_sensitive)
	local t = type(pattern)
	if t ~= "string" and t ~= "number" then
		error("bad argument #1 to 'new' (string expected, got " .. t .. ")", 2)
	end
	pattern = tostring(pattern)
	if case_sensitive == nil then
		case_sensitive = true
	elseif type(case_sensitive) ~= "boolean" then
		error("bad argument #2 to 'new' (boolean expected, got " .. type(case_sensitive) .. ")", 2)
	end
	local ok, id, err = pcall(gocall, GO.regex_new, pattern, case_sensitive)
	if not ok then
		-- At the limit of live regexes: those only garbage holds are
		-- freed by their finalizers, so collect and try once more.
		collectgarbage("collect")
		id, err = gocall(GO.regex_new, pattern, case_sensitive)
	end
	if id == nil then return false, err end
	-- A userdata with a finalizer frees the Go side with the object.
	-- Its metatable is hidden: a script calling the finalizer would free
	-- the id while the object still uses it.
	local gc = newproxy(true)
	local gcmt = getmetatable(gc)
	gcmt.__gc = function() gocall(GO.regex_free, id) end
	gcmt.__metatable = false
	return true, setmetatable({ id = id, pattern = pattern, gc = gc }, regex_mt)
end

local function check(r, fname, s)
	if getmetatable(r) ~= regex_mt then
		error("bad argument #1 to '" .. fname .. "' (Regex expected: call it as regex:" .. fname .. "(str))", 3)
	end
	local t = type(s)
	if t ~= "string" and t ~= "number" then
		error("bad argument #2 to '" .. fname .. "' (string expected, got " .. t .. ")", 3)
	end
end

-- regex:exec(str) reports whether the regex matches str.
function methods.exec(r, s)
	check(r, "exec", s)
	return (gocall(GO.regex_exec, r.id, s))
end

-- regex:match(str) returns whether the regex matches str and a table of the
-- whole match then the groups (up to the first group that did not take
-- part in the match, at most 20 strings); the table is empty on no match.
function methods.match(r, s)
	check(r, "match", s)
	local list = { gocall(GO.regex_match, r.id, s) }
	return #list > 0, list
end

_G.Regex = Regex
I.Regex = Regex
