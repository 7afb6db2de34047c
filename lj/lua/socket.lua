-- Socket: HAProxy's core.tcp(), a LuaSocket-style TCP client whose calls
-- park the coroutine while the loop does the I/O.
-- Reference: HAProxy Lua API, class Socket. Go's half: eventloop/socket.go.
local I = ...
setfenv(1, I.env)
local ffi = require("ffi")

local ffi_string = ffi.string
local type, tostring, tonumber = type, tostring, tonumber

local C = require("ffi").C -- enums of cgo/stream.h, declared in bridge.lua
local CONNECT, SEND, RECV, CLOSE = C.LE_SOCK_CONNECT, C.LE_SOCK_SEND, C.LE_SOCK_RECV, C.LE_SOCK_CLOSE
local OK, EFAIL, ETIMEOUT, ECLOSED = C.LE_SOCK_OK, C.LE_SOCK_EFAIL, C.LE_SOCK_ETIMEOUT, C.LE_SOCK_ECLOSED

local Socket = {}
local mt = { __index = Socket, __tostring = function() return "Socket" end }

-- What a Socket is, by Socket object: its id in Go (0: not connected),
-- its timeout in milliseconds, and the stream of the request that
-- connected it. Kept out of the object: Go trusts the id, and a socket
-- belongs to the request (or task) that opened it, which Go closes it
-- with; another request must not wait on it.
local socks = setmetatable({}, { __mode = "k" })

-- core.tcp() returns a new, unconnected Socket.
function core.tcp()
	local sock = setmetatable({}, mt)
	socks[sock] = { id = 0, ms = 0, owner = false }
	return sock
end

local function check(self, fname)
	local k = socks[self]
	if k == nil then
		error("bad argument #1 to '" .. fname .. "' (Socket expected; use sock:" .. fname .. "(...))", 3)
	end
	return k
end

-- op runs one operation in Go and returns its result code and bytes.
local function op(k, fname, code, data, arg)
	local s, ctx = I.current()
	if s == nil then
		error("Socket:" .. fname .. ": sockets work in actions, services and tasks only", 3)
	end
	if k.id ~= 0 and k.owner ~= s then
		error("Socket:" .. fname .. ": this socket belongs to another request or task", 3)
	end
	s.sock, s.sock_op, s.sock_arg, s.sock_ms = k.id, code, arg or 0, k.ms
	s.io.len = 0
	if data then I.buf_append(s.io, data, #data) end
	I.wait(ctx, I.OP_SOCKET)
	local res = s.sock_res
	local out = ffi_string(s.io.p, s.io.len)
	if code == CONNECT and res == OK then k.id, k.owner = s.sock, s end
	return res, out
end

-- connect(address[, port]): address is a host name or IP, or "host:port".
-- tls is set by connect_ssl.
local function connect(self, fname, host, port, tls)
	local k = check(self, fname)
	if type(host) ~= "string" then
		error("bad argument #2 to 'connect' (string expected, got " .. type(host) .. ")", 2)
	end
	if port == nil then
		local h, p = host:match("^%[?(.-)%]?:(%d+)$")
		if not h then return nil, "connect: missing port in '" .. host .. "'" end
		host, port = h, p
	end
	port = tonumber(port)
	if port == nil or port < 1 or port > 65535 then
		return nil, "connect: invalid port"
	end
	if k.id ~= 0 then return nil, "already connected" end
	if host:find(":", 1, true) then host = "[" .. host .. "]" end
	local res, msg = op(k, fname, CONNECT, host .. ":" .. port, tls and 1 or 0)
	if res ~= OK then return nil, res == ETIMEOUT and "timeout" or msg end
	return 1
end

function Socket.connect(self, host, port)
	return connect(self, "connect", host, port, false)
end

-- connect_ssl: as connect, over TLS (server name sent, certificate not
-- verified, as HAProxy's Lua sockets do).
function Socket.connect_ssl(self, host, port)
	return connect(self, "connect_ssl", host, port, true)
end

-- send(data[, i[, j]]) sends data:sub(i, j); as HAProxy 2.6, it returns
-- the number of bytes sent, or -1 when the connection is closed (no
-- message: a script finds out why with its next receive).
function Socket.send(self, data, i, j)
	local k = check(self, "send")
	if type(data) ~= "string" then data = tostring(data) end
	i, j = tonumber(i) or 1, tonumber(j) or #data
	local piece = data:sub(i, j)
	if k.id == 0 then return -1 end
	if piece == "" then return 0 end
	if op(k, "send", SEND, piece) ~= OK then return -1 end
	return #piece
end

-- receive([pattern[, prefix]]): "*l" a line without its end of line (the
-- default), "*a" everything until the peer closes, or a byte count.
-- As HAProxy 2.6, the end of the connection and the timeout (which closes
-- the socket) end any read alike: it returns what came, prefix included,
-- else nil, "connection closed.".
function Socket.receive(self, pattern, prefix)
	local k = check(self, "receive")
	local arg
	if pattern == nil or pattern == "*l" or pattern == "l" then
		arg = -1
	elseif pattern == "*a" or pattern == "a" then
		arg = -2
	else
		arg = tonumber(pattern)
		-- Go reads the count as an int32 (le_stream.sock_arg).
		if arg == nil or not (arg >= 0 and arg <= 2147483647) or arg % 1 ~= 0 then
			error("bad argument #2 to 'receive' (\"*l\", \"*a\" or a byte count expected)", 2)
		end
		if arg == 0 then return (prefix or "") end
	end
	prefix = prefix or ""
	local res, data = ECLOSED, ""
	if k.id ~= 0 then res, data = op(k, "receive", RECV, nil, arg) end
	if res == OK then return prefix .. data end
	if res == ETIMEOUT then
		op(k, "close", CLOSE)
		k.id, k.owner = 0, false
	elseif res ~= ECLOSED then
		return nil, data, prefix
	end
	local got = prefix .. data
	if got ~= "" then return got end
	return nil, "connection closed."
end

-- close() returns nothing, as HAProxy 2.6.
function Socket.close(self)
	local k = check(self, "close")
	if k.id ~= 0 then
		op(k, "close", CLOSE)
		k.id, k.owner = 0, false
	end
end

-- settimeout(seconds): the limit of each later operation (0 or nil: none;
-- at most 24 days, which Go reads as an int32 of milliseconds).
function Socket.settimeout(self, t)
	local k = check(self, "settimeout")
	t = tonumber(t) or 0
	k.ms = t > 0 and math.max(1, math.floor(math.min(t, 2147483) * 1000)) or 0
	return 1
end

local function names(self, fname, which)
	local k = check(self, fname)
	if k.id == 0 then return nil, "not connected" end
	local ip, port = I.gocall(I.go.sock_name, k.id, which)
	if ip == nil then return nil, port end
	return ip, port
end

function Socket.getpeername(self) return names(self, "getpeername", "peer") end
function Socket.getsockname(self) return names(self, "getsockname", "local") end

-- setoption("keepalive" | "tcp-nodelay" | "linger", value)
function Socket.setoption(self, name, value)
	local k = check(self, "setoption")
	if k.id == 0 then return nil, "not connected" end
	local ok, err = I.gocall(I.go.sock_option, k.id, tostring(name), value and true or false)
	if not ok then return nil, err end
	return 1
end

-- socket_adopt(id, s) is the Socket of a connection Go made socket id of
-- for request or task s: the tunnel of an http.request CONNECT
-- (stream.connection:take_socket()).
function I.socket_adopt(id, s)
	local sock = setmetatable({}, mt)
	socks[sock] = { id = id, ms = 0, owner = s }
	return sock
end

I.Socket = Socket
