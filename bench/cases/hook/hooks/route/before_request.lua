-- The "hook" case: a Burro-style hook reads two request headers, looks the
-- user's tier up in the shared store, and sets a header from them before
-- the request goes on (to the service here).
local h = ctx.req.headers
local user = h["x-user"] or "anonymous"
local tenant = h["x-tenant"] or "none"
local tier = kv.get("tier:" .. user) or "free"
mut.req.set_header("x-route", tenant .. "/" .. user .. "/" .. tier)
