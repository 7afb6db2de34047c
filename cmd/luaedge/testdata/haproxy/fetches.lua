-- The Fetches class (txn.f, txn.sf), driven by HTTP requests.
--
-- http_request:  [lua.fetch_req]   (with http_buffer_request: true)
-- http_response: [lua.fetch_res]
-- use_service:   lua.fetch_service
--
-- fetch_req writes "name=value|type" lines into txn.out; the service
-- prints them. fetch_res reports the response fetches as headers.

local function show(v)
	return tostring(v) .. "|" .. type(v)
end

core.register_action("fetch_req", { "http-req" }, function(txn)
	local f, sf = txn.f, txn.sf
	local path = f:path()
	if path == "/nope" then
		f:nope()
	end
	txn:set_var("txn.v", "from var")
	local out = {}
	local function add(k, v) out[#out + 1] = k .. "=" .. show(v) end
	add("src", f:src())
	add("src_port", f:src_port())
	add("dst", f:dst())
	add("dst_port", f:dst_port())
	add("method", f:method())
	add("path", f:path())
	add("query", f:query())
	add("url", f:url())
	add("base", f:base())
	add("hdr", f:hdr("x-multi"))
	add("hdr_1", f:hdr("x-multi", 1))
	add("hdr_2", f:hdr("x-multi", 2))
	add("hdr_3", f:hdr("x-multi", 3))
	add("hdr_-1", f:hdr("x-multi", -1))
	add("hdr_-3", f:hdr("x-multi", -3))
	add("hdr_missing", f:hdr("x-none"))
	add("req_hdr", f:req_hdr("x-multi"))
	add("req_hdr_1", f:req_hdr("x-multi", 1))
	add("req_fhdr", f:req_fhdr("x-multi"))
	add("req_fhdr_1", f:req_fhdr("x-multi", 1))
	add("req_hdr_cnt", f:req_hdr_cnt("x-multi"))
	add("req_hdr_cnt_missing", f:req_hdr_cnt("x-none"))
	add("req_body", f:req_body())
	add("req_len", f:req_len())
	-- HTTP mode: no buffer of bytes to read, as in HAProxy 2.6.
	add("req_payload", f:req_payload(0, 3))
	add("req_payload_lv", f:req_payload_lv(0, 1))
	add("req_ver", f:req_ver())
	add("fc_http_major", f:fc_http_major())
	add("ssl_fc", f:ssl_fc())
	add("var", f:var("txn.v"))
	add("var_missing", f:var("txn.none"))
	-- The string variants
	add("sf_src_port", sf:src_port())
	add("sf_dst_port", sf:dst_port())
	add("sf_query", sf:query())
	add("sf_hdr_2", sf:hdr("x-multi", 2))
	add("sf_hdr_missing", sf:hdr("x-none"))
	add("sf_req_hdr_cnt", sf:req_hdr_cnt("x-multi"))
	add("sf_req_len", sf:req_len())
	add("sf_req_payload", sf:req_payload(0, 0))
	add("sf_fc_http_major", sf:fc_http_major())
	add("sf_ssl_fc", sf:ssl_fc())
	add("sf_req_ver", sf:req_ver())
	txn:set_var("txn.out", table.concat(out, "\n") .. "\n")
end)

core.register_action("fetch_res", { "http-res" }, function(txn)
	txn.http:res_set_header("x-status", show(txn.f:status()))
	txn.http:res_set_header("x-sf-status", show(txn.sf:status()))
	txn.http:res_set_header("x-res-hdr", show(txn.f:res_hdr("x-svc")))
	txn.http:res_set_header("x-res-hdr-1", show(txn.f:res_hdr("x-svc", 1)))
end)

core.register_service("fetch_service", "http", function(applet)
	local body = applet:get_var("txn.out") or "no output\n"
	applet:set_status(203)
	applet:add_header("x-svc", "first, second")
	applet:add_header("x-svc", "third")
	applet:add_header("content-length", string.len(body))
	applet:start_response()
	applet:send(body)
end)
