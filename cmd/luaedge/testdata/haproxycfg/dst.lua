-- The destination as a script sees it after set-dst / set-dst-port.
core.register_fetches("dst", function(txn)
	return txn.f:dst() .. ":" .. txn.f:dst_port()
end)
