package lj

// pathChunk sets package.path and package.cpath (lua.path, lua.cpath):
// ";;" in either stands for LuaJIT's default directories, without its
// "./" templates, which would make require depend on the working
// directory. "" leaves the default as it is.
func pathChunk(path, cpath string) string {
	return `local function set(key, v)
	if v == "" then return end
	local sys = {}
	for t in string.gmatch(package[key], "[^;]+") do
		if string.sub(t, 1, 2) ~= "./" then sys[#sys + 1] = t end
	end
	v = string.gsub(v, ";;", ";" .. table.concat(sys, ";") .. ";")
	v = string.gsub(string.gsub(v, "^;+", ""), ";+$", "")
	package[key] = v
end
set("path", ` + luaString(path) + `)
set("cpath", ` + luaString(cpath) + `)
`
}
