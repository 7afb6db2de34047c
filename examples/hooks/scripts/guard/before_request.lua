-- Refuse the blocked paths before the service sees them; give every
-- other request an id the service and the client see.
if blocked[ctx.req.path] then
	log.audit("blocked", { path = ctx.req.path, client = ctx.req.remote_addr })
	mut.resp.set_status(403)
	mut.resp.set_header("content-type", "text/plain")
	mut.resp.set_body("forbidden\n")
	mut.ctx.set_finish()
	return
end
mut.req.set_header("x-request-id", ctx.id)
mut.resp.set_header("x-request-id", ctx.id)
