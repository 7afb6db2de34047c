-- A fetch and a converter whose names have "-" and ".", which the
-- configuration calls lua.req-hash and lua.tag.it. A script cannot call
-- them: HAProxy's txn.f and txn.c have no methods for Lua's own.
core.register_fetches("req-hash", function(txn, salt)
  return txn.sc:sdbm(salt .. txn.sf:req_fhdr("host") .. txn.sf:path(), 1)
end)
core.register_converters("tag.it", function(v, tag)
  return (tag or "t") .. ":" .. v
end)
core.register_action("hash-var", { "http-req" }, function(txn)
  txn:set_var("txn.from_lua", "set")
  txn:set_var("txn.from_lua", txn.c:lua_tag_it(tostring(txn.f:lua_req_hash("s")), "m"))
end)
