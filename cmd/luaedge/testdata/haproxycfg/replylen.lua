-- Replies whose script names a content-length: the answer has the
-- body's length, whatever the script said.
core.register_action("wrong-length", { "http-req" }, function(txn)
  txn:done({ status = 200, headers = { ["content-length"] = { "99" }, ["x-a"] = { "1" } }, body = "abc" })
end)
core.register_action("wrong-length-reply", { "http-req" }, function(txn)
  local r = txn:reply({ status = 201, body = "hello" })
  r:add_header("Content-Length", "1")
  txn:done(r)
end)
