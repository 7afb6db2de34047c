-- A Lua fetch the access log calls when the request ends.
core.register_fetches("fe", function(txn) return "fe=" .. txn.f:fe_name() end)
