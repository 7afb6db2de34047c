-- Once per worker as the script loads: the tier the hook looks up (nginx
-- fills its lua_shared_dict the same way, HAProxy its Lua table).
kv.set("tier:alice", "gold")
