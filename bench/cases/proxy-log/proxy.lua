-- The "proxy" case: an http-req action that sets a request header and an
-- http-res action that sets a response header, around forwarding to a
-- static nginx. Runs unchanged on luaedge and HAProxy; nginx runs the same
-- logic with ngx_lua (nginx.conf).
core.register_action("tag", { "http-req" }, function(txn)
	txn.http:req_set_header("x-edge", "luaedge")
end)

core.register_action("stamp", { "http-res" }, function(txn)
	txn.http:res_set_header("x-served-by", "edge")
end)
