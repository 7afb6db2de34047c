---@meta
-- Type annotations of luaedge's hook scripts (docs/hooks.md), for editors
-- with the Lua language server (LuaLS): keep this file beside the script
-- folders; luaedge never loads it. `luaedge hooks init NAME` writes it.

---@class HookRequest
---@field proto string           "HTTP/1.1", "HTTP/1.0" or "HTTP/2.0"
---@field host string            the Host (or :authority), port included
---@field scheme string          "http" or "https"
---@field method string
---@field path string            without the query
---@field query string           after "?", "" when none
---@field url string             scheme://host/path?query
---@field remote_addr string     the client's "ip:port" ("[ip6]:port")
---@field headers table<string, string> lower-case name -> value (repeated fields joined with ", ")
---@field cookies table<string, string> name -> value, from the Cookie field
---@field body string?           the whole body (waits for it), in before_request and after_request
---@field content_length integer -1 when the request has none

---@class HookResponse
---@field status string          "200 OK"
---@field status_code integer
---@field proto string
---@field headers table<string, string> lower-case name -> value (set-cookie values joined with "\n")
---@field body string?           in before_response, of an answer luaedge's scripts made; nil for a server's
---@field content_length integer -1 when the response has none

---@class HookContext
---@field id string              the request's id (unique in the server's generation)
---@field session_id string      the client connection's id
---@field is_finished boolean    a hook called mut.ctx.set_finish()
---@field req HookRequest
---@field resp HookResponse?     nil until the response head is there (before_response, after_response)

---@type HookContext
ctx = nil

---@class HookMutCtx
local HookMutCtx = {}
--- Stops the hooks of lower priority for this event; in connect the connection closes, in
--- before_request the request goes no further and is answered with what mut.resp set.
---@return true
function HookMutCtx.set_finish() end

---@class HookMutReq
local HookMutReq = {}
---@param host string
---@return true|nil ok
---@return string? err
function HookMutReq.set_host(host) end
---@param scheme "http"|"https"
---@return true|nil ok
---@return string? err
function HookMutReq.set_scheme(scheme) end
---@param method string
---@return true|nil ok
---@return string? err
function HookMutReq.set_method(method) end
---@param path string
---@return true|nil ok
---@return string? err
function HookMutReq.set_path(path) end
---@param url string "/path?query" or "scheme://host/path?query"
---@return true|nil ok
---@return string? err
function HookMutReq.set_url(url) end
---@param body string
---@return true|nil ok
---@return string? err
function HookMutReq.set_body(body) end
---@param name string
---@param value string|number
---@return true|nil ok
---@return string? err
function HookMutReq.set_header(name, value) end
---@param name string
---@param value string|number
---@return true|nil ok
---@return string? err
function HookMutReq.add_header(name, value) end
---@param name string
---@return true|nil ok
---@return string? err
function HookMutReq.del_header(name) end
---@param cookie string|{name: string, value: string} "name=value"
---@return true|nil ok
---@return string? err
function HookMutReq.set_cookie(cookie) end
---@param name string
---@return true|nil ok
---@return string? err
function HookMutReq.del_cookie(name) end

---@class HookMutResp
local HookMutResp = {}
---@param status integer
---@return true|nil ok
---@return string? err
function HookMutResp.set_status(status) end
---@param body string
---@return true|nil ok
---@return string? err
function HookMutResp.set_body(body) end
---@param name string
---@param value string|number
---@return true|nil ok
---@return string? err
function HookMutResp.set_header(name, value) end
---@param name string
---@param value string|number
---@return true|nil ok
---@return string? err
function HookMutResp.add_header(name, value) end
---@param name string
---@return true|nil ok
---@return string? err
function HookMutResp.del_header(name) end

---@class HookMut
---@field ctx HookMutCtx
---@field req HookMutReq
---@field resp HookMutResp

---@type HookMut
mut = nil

---@class HookLog
local HookLog = {}
---@param msg string
---@param attrs? table<string, string|number|boolean>
function HookLog.trace(msg, attrs) end
---@param msg string
---@param attrs? table<string, string|number|boolean>
function HookLog.debug(msg, attrs) end
---@param msg string
---@param attrs? table<string, string|number|boolean>
function HookLog.info(msg, attrs) end
---@param msg string
---@param attrs? table<string, string|number|boolean>
function HookLog.warn(msg, attrs) end
---@param msg string
---@param attrs? table<string, string|number|boolean>
function HookLog.error(msg, attrs) end
---@param msg string
---@param attrs? table<string, string|number|boolean>
function HookLog.audit(msg, attrs) end

---@type HookLog
log = nil

---@class HookKV
local HookKV = {}
---@param key string
---@return string? value
---@return string? err
function HookKV.get(key) end
---@param key string
---@return string? value base64
---@return string? err
function HookKV.get_base64(key) end
---@param key string
---@param value string
---@param ttl? number seconds
---@return true|nil ok
---@return string? err
function HookKV.set(key, value, ttl) end
---@param key string
---@return true|nil ok
---@return string? err
function HookKV.delete(key) end
---@param prefix string
---@return table<string, string>? entries
---@return string? err
function HookKV.list(prefix) end

---@type HookKV
kv = nil

---@class HookBus
local HookBus = {}
---@param name string
---@param data? string
---@return string? err
function HookBus.emit(name, data) end
---@param name string
---@param fn fun(data: string)
---@return true|nil ok
---@return string? err
function HookBus.subscribe(name, fn) end

---@type HookBus
bus = nil

---@class HookArtifacts
local HookArtifacts = {}
---@param name string
---@param content string
---@return true|nil ok
---@return string? err
function HookArtifacts.write(name, content) end
---@param name string
---@return string? content
---@return string? err
function HookArtifacts.read(name) end
---@param name string
---@return boolean
function HookArtifacts.exists(name) end
---@param name string
---@return true|nil ok
---@return string? err
function HookArtifacts.delete(name) end
---@param old string
---@param new string
---@return true|nil ok
---@return string? err
function HookArtifacts.rename(old, new) end
---@return string[]? names
---@return string? err
function HookArtifacts.list() end

---@type HookArtifacts
artifacts = nil

---@class HookDataStore
local HookDataStore = {}
---@param name string a path under hooks.data_dir
---@return boolean
function HookDataStore.exists(name) end
---@param name string
---@return string? content
---@return string? err
function HookDataStore.read(name) end
---@param path string a folder under hooks.data_dir ("" for itself)
---@param exts? string|string[] keep the names ending with these extensions
---@return string[]? names
---@return string? err
function HookDataStore.list(path, exts) end

---@type HookDataStore
data_store = nil

---@class HookTime
local HookTime = {}
---@return integer seconds since the epoch
function HookTime.unix() end
---@return string "2006-01-02T15:04:05Z"
function HookTime.rfc3339() end
---@param fmt? string strftime format, UTC; default "%Y-%m-%d"
---@return string
function HookTime.date(fmt) end

---@type HookTime
time = nil

---@class HookBase64
local HookBase64 = {}
---@param data string
---@return string
function HookBase64.encode(data) end
---@param data string
---@return string? result
---@return string? err
function HookBase64.decode(data) end

---@type HookBase64
base64 = nil

---@class HookJSON
---@field null lightuserdata JSON null
local HookJSON = {}
---@param value any
---@return string? result
---@return string? err
function HookJSON.encode(value) end
---@param text string
---@return any result
---@return string? err
function HookJSON.decode(text) end

---@type HookJSON
json = nil

---@class HookErr
---@field msg string   the failed hook's error
---@field hook string  which hook failed

--- In error.lua.
---@type HookErr
err = nil

---@class HookMsg
---@field data string?           the message; set it to change it, to nil to drop it (ws_msg)
---@field opcode "text"|"binary" (ws_msg)
---@field direction "in"|"out"   from the client, or to it (ws_msg)
---@field code integer?          the close code, when known (ws_close)
---@field reason string?         (ws_close)

--- In ws_msg.lua and ws_close.lua.
---@type HookMsg
msg = nil

---@class HookOpts
---@field session string  names this flush: when, which worker, which of its flushes
---@field reason "interval"|"stop"|"reload"

--- In flush.lua.
---@type HookOpts
opts = nil
