-- Cases for require("http.headers"), run both by luaedge's module and,
-- where the system has it, by LuaJIT with lua-http (lj/luahttp_test.go):
-- each case emits one line, which must be the same. Names are lower-case
-- here: luaedge lower-cases names, lua-http keeps them as given.
function run(emit)
	local headers = require("http.headers")
	local function show(...)
		local parts = { "#" .. select("#", ...) }
		for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
		return table.concat(parts, " ")
	end
	local function fields(h)
		local parts = {}
		for name, value, never in h:each() do
			parts[#parts + 1] = name .. "=" .. tostring(value) .. (never and "!" or "")
		end
		return h:len() .. " [" .. table.concat(parts, " ") .. "]"
	end

	local h = headers.new()
	emit("new " .. tostring(h) .. " " .. fields(h))
	h:append(":status", "200")
	h:append("set-cookie", "foo=bar")
	h:append("connection", "close")
	h:append("set-cookie", "baz=qux")
	h:append("authorization", "secret")
	h:append("x-open", "v", false)
	h:append("x-hidden", "v", true)
	emit("append " .. fields(h))
	emit("get set-cookie " .. show(h:get("set-cookie")))
	emit("get :status " .. show(h:get(":status")))
	emit("get missing " .. show(h:get("missing")))
	local seq = h:get_as_sequence("set-cookie")
	emit("sequence " .. seq.n .. " " .. table.concat(seq, "|"))
	seq = h:get_as_sequence("missing")
	emit("sequence missing " .. seq.n .. " " .. tostring(seq[1]))
	emit("comma " .. tostring(h:get_comma_separated("set-cookie")) .. " " .. tostring(h:get_comma_separated("missing")))
	emit("has " .. tostring(h:has("connection")) .. " " .. tostring(h:has("missing")))
	emit("geti 2 " .. show(h:geti(2)))
	emit("geti 99 " .. show(h:geti(99)))

	local c = h:clone()
	c:append("x-clone", "1")
	emit("clone " .. fields(c) .. " / " .. fields(h))

	emit("delete " .. tostring(h:delete("set-cookie")) .. " " .. fields(h))
	emit("delete missing " .. tostring(h:delete("missing")) .. " " .. fields(h))
	emit("get after delete " .. show(h:get("connection")) .. show(h:get("set-cookie")))

	h:upsert("connection", "keep-alive")
	h:upsert("x-new", "1")
	h:upsert("cookie", "a=b")
	emit("upsert " .. fields(h))
	h:append("x-multi", "1")
	h:append("x-multi", "2")
	emit("upsert multi " .. tostring((pcall(h.upsert, h, "x-multi", "3"))) .. " " .. fields(h))

	h:modifyi(1, "404")
	h:modifyi(2, "secret2", false)
	emit("modifyi " .. fields(h))
	emit("modifyi bad " .. tostring((pcall(h.modifyi, h, 99, "x"))))

	local s = headers.new()
	s:append("b", "2")
	s:append(":path", "/")
	s:append("a", "2")
	s:append("b", "1")
	s:append(":authority", "x")
	s:append("a", "2", true)
	s:append(":method", "GET")
	s:sort()
	emit("sort " .. fields(s))
	emit("sort then get " .. show(s:get("b")) .. " " .. show(s:get(":method")))

	local it = {}
	for name, value in s:each() do it[#it + 1] = name .. ":" .. value end
	emit("each " .. table.concat(it, ","))
	local empty = 0
	for _ in headers.new():each() do empty = empty + 1 end
	emit("each empty " .. empty)
	emit("methods " .. tostring(type(headers.methods.append)) .. " " .. tostring(getmetatable(s) == headers.mt))
end
