// Package http2 implements the HTTP/2 wire format (RFC 9113) for an
// event-loop server: a frame codec over complete frames, and Conn, the
// server side of one connection as a state machine fed with the inbound
// bytes. With Limits.ExtendedConnect it accepts RFC 8441's extended
// CONNECT (WebSocket over HTTP/2), whose stream the caller serves.
//
// Nothing here does I/O, starts a goroutine or reads a clock. ParseFrame
// looks only at complete frames: a caller keeps the bytes of an incomplete
// frame and calls again once more have arrived, and a frame longer than
// the limit is refused as soon as its 9-byte header is there, so nothing
// buffers without bound. Header blocks are decoded fragment by fragment as
// their frames arrive, each one counted against the limits (x/net/http2's
// Framer reads a header block's CONTINUATION frames in one blocking call,
// the shape the CONTINUATION flood exploits). Parsing a request and its
// body allocates nothing once the HPACK table holds its fields; a field
// the client sends as a literal costs the string the HPACK decoder makes.
//
// # Defences
//
// Each has a limit in Limits and ends the stream or the connection with
// the error code RFC 9113 gives it:
//
//   - Rapid Reset (CVE-2023-44487): a stream opened and reset within one
//     Feed is never reported; resets by the client, and ours for its
//     errors, spend a budget that ended responses refill (ResetBudget).
//   - CONTINUATION flood: frames and encoded bytes per header block
//     (MaxHeaderFrames, MaxHeaderBlock); a block left open is the
//     caller's header timeout to end (InHeaderBlock).
//   - HPACK bomb: the dynamic table stays at 4096 bytes, one name or value
//     at MaxFieldSize, a decoded list at MaxHeaderListSize and
//     MaxHeaderFields (past those a request is answered 431 and the rest
//     of its block decoded without being kept).
//   - SETTINGS, PING and empty-frame floods: replies queued and not taken
//     (MaxQueuedControl), and a flood ratio like nginx's: frame bytes in
//     and out against the payload they carry (FloodAllowance).
//   - Zero-window stalls: a response held back by the client's windows is
//     reported (Window, EventWindow) for the caller's timeout to end.
//
// # Ownership
//
// A Conn belongs to the loop serving its connection. The events of a
// Feed alias the bytes given to it and the Conn's field store until the
// next Feed; Output's bytes are valid until the next call on the Conn.
package http2
