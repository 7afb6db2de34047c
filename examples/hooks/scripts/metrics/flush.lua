-- Every flush_interval, and when the server stops or reloads: log the
-- counts (an exporter would send them somewhere) and start again.
local attrs, any = { reason = opts.reason, session = opts.session }, false
for status, n in pairs(counts) do
	attrs["status_" .. status] = n
	any = true
end
if any then log.info("responses", attrs) end
counts = {}
