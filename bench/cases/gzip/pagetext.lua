-- The page of the "gzip" case: 10240 bytes of text made of words drawn by
-- a Park-Miller generator, so that every server (LuaJIT, Lua 5.3) builds
-- the same bytes, and they compress about as prose does, not as a
-- repeated string would. Sets the global PAGE.
local words = {
	"the", "edge", "server", "answers", "every", "request", "with", "a", "page", "of", "text",
	"that", "compresses", "like", "prose", "operators", "measure", "bytes", "and", "time", "per",
	"response", "while", "clients", "wait", "for", "content", "encoded", "as", "gzip", "by",
	"HAProxy", "nginx", "luaedge", "on", "one", "core", "under", "load", "from", "wrk", "in",
	"this", "benchmark", "case", "where", "ratio", "matters", "more", "than", "speed", "alone,",
	"because", "networks", "are", "slow", "compared", "to", "memory.", "<p>", "</p>", "<li>", "</li>",
}
local x, parts, n = 20260707, {}, 0
while n < 10240 do
	x = (x * 16807) % 2147483647
	local w = words[x % #words + 1]
	local sep = (x % 13 == 0) and "\n" or " "
	parts[#parts + 1] = w .. sep
	n = n + #w + 1
end
PAGE = table.concat(parts):sub(1, 10240)
