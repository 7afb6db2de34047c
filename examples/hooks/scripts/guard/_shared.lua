-- The paths to refuse, read once per worker from the data store
-- (hooks.data_dir: data/blocked.json).
blocked = {}
local text, err = data_store.read("blocked.json")
if text == nil then
	log.warn("no block list", { err = err })
else
	local list = assert(json.decode(text))
	for _, path in ipairs(list) do blocked[path] = true end
end
