-- A TCP service: answers each line with its upper-case copy until "quit".
core.register_service("upper", "tcp", function(applet)
	applet:send("hello " .. (applet:get_var("txn.who") or "?") .. "\n")
	while true do
		local line = applet:getline()
		if line == nil or line == "" or line:match("^quit") then break end
		applet:send(string.upper(line))
	end
end)
