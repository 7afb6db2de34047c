-- http.zlib: lua-http's streaming inflate and deflate closures.
-- Reference: lua-http, module http.zlib. Go's half is lj/zlib.go.
-- inflate() takes the zlib or the gzip format (told apart by the first
-- bytes, as lua-zlib's automatic detection); deflate() writes zlib's, each
-- call flushed so that its output inflates to all the input so far.
-- luaedge addition: inflate(max_bytes) bounds the total output (64 MiB
-- when not given); past it the closure raises an error.
local I = ...
setfenv(1, I.env)

local type, error, pcall, tostring, getmetatable, newproxy = type, error, pcall, tostring, getmetatable, newproxy
local gocall, GO = I.gocall, I.go

local M = { engine = "luaedge" }

-- stream makes a stream in Go and its closure. The Go side is freed when
-- the stream ends or fails, or else with the closure (the finalizer of gc,
-- a userdata only the closure holds), once either way.
local function stream(inflate, max)
	local ok, id = pcall(gocall, GO.zlib_new, inflate, max or 0)
	if not ok then
		-- At the limit of live streams: those only garbage holds are freed
		-- by their finalizers, so collect and try once more.
		collectgarbage("collect")
		id = gocall(GO.zlib_new, inflate, max or 0)
	end
	local gc = newproxy(true)
	local gcmt = getmetatable(gc)
	gcmt.__gc = function() gocall(GO.zlib_free, id) end
	gcmt.__metatable = false
	local function release()
		gcmt.__gc = nil
		gc = nil
		gocall(GO.zlib_free, id)
	end
	return function(chunk, end_stream)
		if gc == nil then error("stream closed", 2) end
		if type(chunk) ~= "string" then
			error("bad argument #1 (string expected, got " .. type(chunk) .. ")", 2)
		end
		local fed, out, fin = pcall(gocall, GO.zlib_feed, id, chunk, end_stream and true or false)
		if not fed then
			release()
			error((inflate and "inflate: " or "deflate: ") .. tostring(out), 2)
		end
		if fin then release() end
		return out
	end
end

function M.inflate(max_bytes)
	if max_bytes ~= nil and (type(max_bytes) ~= "number" or max_bytes <= 0) then
		error("bad argument #1 to 'inflate' (positive number expected)", 2)
	end
	return stream(true, max_bytes)
end

function M.deflate()
	return stream(false)
end

package.preload["http.zlib"] = function() return M end
