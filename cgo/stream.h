/*
 * The structs shared between Go and Lua. Go writes the request part of a
 * stream before resuming its coroutine; Lua reads it through LuaJIT FFI and
 * records the response part; Go reads that after the resume returns.
 *
 * The FFI declarations of these structs live in lj/lua/bridge.lua and must stay
 * identical to this file (lj's tests compare the two).
 *
 * Nothing here is specific to HTTP/1: an HTTP/2 stream or a WebSocket
 * message fills the same struct.
 */
#ifndef LUAEDGE_STREAM_H
#define LUAEDGE_STREAM_H

#include <stdint.h>
#include <stddef.h>

/* le_buf is a growable byte buffer owned by C (malloc). */
typedef struct le_buf {
	char *p;
	uint32_t len;
	uint32_t cap;
} le_buf;

/* le_span locates bytes inside a le_buf. */
typedef struct le_span {
	uint32_t off;
	uint32_t len;
} le_span;

/* le_field is one header field: name (lower-case) and value. */
typedef struct le_field {
	le_span name;
	le_span value;
} le_field;

/* What a coroutine waits for when it yields (le_stream.op). */
enum {
	LE_OP_DONE = 0,  /* the entry function returned (or failed) */
	LE_OP_SLEEP = 1, /* resume after arg milliseconds */
	LE_OP_YIELD = 2, /* resume on the next loop iteration */
	LE_OP_RECV = 3,  /* resume when more body arrived or the body ended */
	LE_OP_FLUSH = 4, /* send what is in out, then resume */
	LE_OP_FORWARD = 5, /* forward the request; resume with the response head */
	LE_OP_SOCKET = 6,  /* a Socket operation (sock_op) */
	LE_OP_UPGRADE = 7, /* accept a WebSocket upgrade (ws_op, io); resume with the outcome */
	LE_OP_AFTER = 8,   /* done as OP_DONE is; resume once the response was handed over (hooks' after_response) */
	LE_OP_INTERIM = 9, /* send an interim response (status arg, fields in io, "name: value\r\n" each), then resume */
	LE_OP_RES_BODY = 10 /* Lua filters wait for more of the server's response body (appended to body) or its end (LE_F_RES_END); what they pass on is in out */
};

/* Socket operations and results (le_stream.sock_op, sock_res). */
enum {
	LE_SOCK_CONNECT = 1,
	LE_SOCK_SEND = 2,
	LE_SOCK_RECV = 3,
	LE_SOCK_CLOSE = 4,
	/* The WebSocket client (http.websocket's new_from_uri). Connect: io
	 * holds the address, Host, target, subprotocols and extra fields, one
	 * a line (lj/lua/websocket_client.lua); sock_arg 1: over TLS, 3: over
	 * TLS without verifying the server. Send: io holds the message,
	 * sock_arg its LE_MSG_* type. Receive: Go writes the message in io and
	 * its LE_MSG_* type in sock_arg; LE_SOCK_ECLOSED: the close code in
	 * sock_arg and the reason in io. Close: io holds the close frame's
	 * payload. */
	LE_SOCK_WS_CONNECT = 5,
	LE_SOCK_WS_SEND = 6,
	LE_SOCK_WS_RECV = 7,
	LE_SOCK_WS_CLOSE = 8,
	LE_SOCK_SHARED = 24, /* core.kv, core.bus, core.artifacts on a remote backend: sock_arg says which operation (lj/kv.go), io holds its fields, then its answer */
	LE_SOCK_OK = 0,
	LE_SOCK_EFAIL = -1,    /* message in io */
	LE_SOCK_ETIMEOUT = -2, /* what arrived so far in io */
	LE_SOCK_ECLOSED = -3   /* what arrived so far in io */
};

/* HTTP client operations (http.request, core.resolve: proxy/client.go), on
 * the Socket fields: sock is the exchange's id. On an error, io holds
 * "ERRNO message". Numbered apart from the Socket class's own. */
enum {
	LE_SOCK_HTTP = 16,      /* io: the request (proxy/client_request.go); back: the response head, body so far */
	LE_SOCK_HTTP_READ = 17, /* sock_arg: bytes wanted at most (0: what came); back: body bytes */
	LE_SOCK_RESOLVE = 18,   /* io: a host name; back: its addresses, space-separated */
	LE_SOCK_HTTP_WRITE = 19 /* io: a piece of a streamed request body; sock_arg 1: the last; back: as LE_SOCK_HTTP */
	/* After LE_SOCK_HTTP and LE_SOCK_HTTP_READ, LE_SOCK_ECLOSED says the body
	 * ended with these bytes, and Go writes in sock_arg the length of the
	 * trailers at the end of io. After LE_SOCK_HTTP and LE_SOCK_HTTP_WRITE,
	 * sock_arg -1 (and nothing in io) asks for more of a streamed request
	 * body. */
};

/* le_stream.flags */
enum {
	LE_F_BODY_END = 1,   /* the whole request body has been received */
	LE_F_STARTED = 2,    /* the script started the response */
	LE_F_HEAD_SENT = 4,  /* Go has sent the response head */
	LE_F_FAILED = 8,     /* the entry function raised an error (see err) */
	LE_F_SESS_VARS = 16, /* the script set a sess.* variable */
	LE_F_ABORT = 32,     /* abort this stream: RST_STREAM on HTTP/2, close the connection on HTTP/1 */
	LE_F_SOCKOPT = 64,   /* tos or mark changed: apply them to the socket */
	LE_F_FORWARD = 128,  /* forward the request to a backend */
	LE_F_ERR_LOG = 256,  /* err holds an action's error that the request went on after: Go logs it */
	LE_F_SVC_ERR = 512,  /* with LE_F_ERR_LOG: the error was a service's, answered with HAProxy's 500 */
	LE_F_HOOKS_AFTER = 1024, /* Lua: the request has after_response hooks; parked for a server's head, it is resumed with LE_F_AFTER when the exchange ends without one */
	LE_F_AFTER = 2048,      /* Go: the response is over; this resume runs the after_response hooks */
	LE_F_INSPECT_OVER = 4096, /* Go: a TCP connection's inspect delay passed: the tcp-request rules' channel reads stop waiting */
	LE_F_RES_INSPECT_OVER = 8192, /* Go: the tcp-response rules' inspect delay passed, or there is none: their evaluation is the last, nothing waits for server bytes */
	/* 16384: free */
	LE_F_RES_END = 32768,    /* Go: the server's response body ended (Lua filters, LE_OP_RES_BODY) */
	LE_F_REQ_FILTER = 65536  /* Lua: filters take the forwarded request's body (read as a script's); Go sends what they put in out to the server, and ends its body when the coroutine waits with LE_OP_FORWARD */
};

/* The protocol a stream came on (le_stream.kind). */
enum {
	LE_KIND_HTTP1 = 0,
	LE_KIND_HTTP2 = 1,
	LE_KIND_TCP = 2,
	LE_KIND_WEBSOCKET = 3
};

/* le_msg.flags: what a message of out is (WebSocket frames). */
enum {
	LE_MSG_TEXT = 1,
	LE_MSG_BINARY = 2,
	LE_MSG_CLOSE = 4,
	LE_MSG_PING = 8,
	LE_MSG_PONG = 16,
	LE_MSG_REPLY = 32 /* a ws filter's answer: back to the message's sender */
};

/* le_msg ends a message in le_stream.out: the bytes from the previous
 * message's end (or 0) to end form one message (a WebSocket frame), which Go
 * must not merge with its neighbours. */
typedef struct le_msg {
	uint32_t end; /* offset into out, one past the message's last byte */
	uint8_t flags; /* LE_MSG_* */
} le_msg;

typedef struct le_stream {
	/* Which entry function the coroutine runs, its argument, and the yield
	 * protocol. First because code LuaJIT runs interpreted finds a field by
	 * walking the struct's fields in order. */
	int32_t entry;
	int32_t entry_arg;
	int32_t op;
	double arg;

	/* Request, written by Go. Spans point into head. */
	le_buf head;
	le_span method;
	le_span target;
	le_span path;
	le_span query;
	le_span authority;
	le_span src; /* client address, textual */
	le_span dst; /* address the client connected to */
	int32_t src_port;
	int32_t dst_port;
	int32_t major;
	int32_t minor;
	le_field *fields;
	uint32_t nfields;
	uint32_t fields_cap;
	int64_t content_length; /* -1 when unknown */
	le_buf body;            /* body bytes received, not yet read by Lua */
	uint32_t body_pos;      /* read offset into body */
	uint32_t flags;

	int64_t conn_id; /* the client connection, for sess.* variables */
	int32_t backend; /* backend a script chose (index), -1: the frontend's routing */

	/* Response, written by Lua. Spans point into resp. */
	int32_t status;
	le_span reason;
	le_buf resp;
	le_field *rfields;
	uint32_t nrfields;
	uint32_t rfields_cap;
	le_buf out; /* response body bytes not yet sent */

	/* Socket options a script asked for (TXN:set_tos, set_mark). */
	int32_t tos;
	int32_t mark;
	/* The level of the request's access-log line a script set (set-log-level,
	 * TXN:set_loglevel), as HAProxy keeps it: 0 none set, -1 silent (no
	 * line), else the syslog level + 1. */
	int32_t log_level;
	/* The termination state of the request's access-log line a rule set
	 * (TXN:set_termination_state, a tarpit's PT); term[0] 0: none. */
	char term[2];

	/* The client's stick counters in the frontend's tracking table (sc0),
	 * for the sc_* and src_* fetches without a gate call. Go fills the
	 * counters the state asked for (le_loop.stk_want) before the first
	 * resume of a request; Lua clears stk_have when the request yields or
	 * writes a counter, so later reads take the gate and see fresh values. */
	uint32_t stk_have; /* bit i: stk[i] holds counter i */
	uint32_t stk_none; /* bit i: the table does not store counter i (nil) */
	double stk[16];

	/* Socket class (core.tcp): the operation a coroutine waits on, and its
	 * result. io holds the address to connect to, the bytes to send, or
	 * what was received (or an error message). */
	int32_t sock;       /* socket id; 0: none yet */
	int32_t sock_op;    /* LE_SOCK_* */
	int32_t sock_arg;   /* receive: -1 a line, -2 all, n > 0 bytes */
	int32_t sock_ms;    /* timeout in milliseconds; 0: none */
	int32_t sock_res;   /* LE_SOCK_OK or an LE_SOCK_E* error */
	le_buf io;

	le_buf err; /* error message and traceback when LE_F_FAILED */

	/* What the next protocols need, after the fields every request reads.
	 * Written by Go with the request unless said otherwise. */
	int32_t kind;       /* LE_KIND_* */
	uint32_t stream_id; /* HTTP/2 stream id; 0 for the other kinds */
	le_span scheme;     /* "http" or "https" (in head); empty: "http" */
	le_span protocol;   /* :protocol of an extended CONNECT (in head) */
	/* Request trailers (spans into head), when the body has ended. */
	le_field *trailers;
	uint32_t ntrailers;
	uint32_t trailers_cap;
	/* Response trailers, written by Lua (spans into resp). */
	le_field *rtrailers;
	uint32_t nrtrailers;
	uint32_t rtrailers_cap;
	/* Message boundaries in out, written by Lua with the bytes; Go sends
	 * each message as a unit and clears them with out. */
	le_msg *msgs;
	uint32_t nmsgs;
	uint32_t msgs_cap;
	/* The client connection's TLS (spans into head), written by Go with the
	 * request; tls_version empty: the connection is clear text. */
	le_span tls_version; /* "TLSv1.2", "TLSv1.3" */
	le_span tls_cipher;  /* OpenSSL's name of the cipher suite */
	le_span tls_sni;     /* the server name the client asked for */
	le_span tls_alpn;    /* the protocol ALPN settled on */
	le_span tls_client;  /* the client's certificate: transport.ClientFacts; empty: none */
	/* The TLVs of the connection's PROXY v2 header, as they came (a span
	 * into head, written by Go with the request; empty: none). Lua finds
	 * the one a fetch asks for. */
	le_span pp_tlvs;
	/* WebSocket. Before LE_OP_UPGRADE, Lua writes 1 in ws_op to ask for
	 * permessage-deflate (0 not) and the subprotocols it speaks in io
	 * (comma-separated); Go answers in ws_code: 0 and the subprotocol
	 * chosen in io, or the HTTP status refusing the upgrade and why in io.
	 * Once accepted, Go writes a message it received in body (from 0) and
	 * its type in ws_op (LE_MSG_TEXT or LE_MSG_BINARY); Lua takes it and
	 * writes 0 in ws_op, which lets Go put the next one. LE_MSG_CLOSE in
	 * ws_op: the connection closed, with code ws_code and the reason in
	 * io. For a ws filter (entry 5), Go puts the message in body, its
	 * type in ws_op and who sent it in ws_code (0 the client, 1 the
	 * server); Lua writes what goes on in out. A chain that runs hook
	 * scripts also gets ws_op 0 when the WebSocket opens and LE_MSG_CLOSE
	 * when it closes. For the hooks' flush (entry 9), Go puts why in
	 * ws_code (0 the interval, 1 a stop, 2 a reload) and opts.session in
	 * io. */
	int32_t ws_op;
	int32_t ws_code;
	/* The values of the variables the frontend's access log names, written
	 * by Lua as its request ends ("LEN:VALUE" each, "-" when unset); Go
	 * copies them for the log line. */
	le_buf logvars;
	/* Persistence: what the backend's use-server and stick rules
	 * (TXN:use_server, stick_match, stick_store) decided, written by Lua
	 * before the request is forwarded and read by Go as it picks the
	 * server. srv_id is the server chosen, by its id in backend srv_be
	 * (HAProxy's puid; 0: the balancing chooses); once a server took the
	 * request, Go writes that server there (HAProxy's target), which the
	 * response's stick store-response rules store. stick holds the stick
	 * stores pending until the server takes the request, "TABLE\0KEY\0"
	 * each: they are the request's until Go stores them. */
	int32_t srv_be;
	int32_t srv_id;
	le_buf stick;
	/* prst: what the backend's force-persist and ignore-persist rules
	 * decided, written by Lua: 0 neither, 1 force (the persistence goes
	 * to a server down or in maintenance), 2 ignore (the cookie is
	 * neither read nor set). */
	int32_t prst;
	/* set-timeout: the server and tunnel timeouts of this request, in
	 * milliseconds, written by Lua (TXN:set_timeout); 0: the backend's. */
	int32_t server_ms;
	int32_t tunnel_ms;
	/* The RAM cache (HAProxy's cache sections), by index + 1 (0: none).
	 * cache_use and cache_store are written by Lua (TXN:cache_use,
	 * cache_store): Go looks the request up as it forwards it, and stores
	 * the server's response. cache_hit is written by Go: the response came
	 * from that cache (res.cache_hit, res.cache_name). */
	int32_t cache_use;
	int32_t cache_store;
	int32_t cache_hit;
	/* The version of the response the http-response rules see, major * 10
	 * + minor (capture.res.ver): written by Go with a server's head, by Lua
	 * with a service's (11); 0: none yet, or an answer luaedge made. */
	int32_t res_ver;
	/* The Lua service that answers the request (TCP: the session), by
	 * its registration id (0: none), written by Lua as it starts: the
	 * access log names it as the server, <lua.NAME>. */
	int32_t service;
	/* The stick entries the request's rules tracked, "TABLE\0KEY\0"
	 * each, written by Lua as the request's script ends: Go releases
	 * them (conn_cur) when the exchange ends, after the response's body,
	 * as HAProxy does at the end of its stream. */
	le_buf untrack;
} le_stream;

/* le_loop is what one state shares with its loop outside any stream. It
 * lives as long as the state (inside le_state); each field says who writes
 * it. */
typedef struct le_loop {
	/* Lua: bit i asks Go to fill stick counter i of every request
	 * (le_stream.stk); set when a fetch first reads the counter. */
	uint32_t stk_want;
	/* Go: the length of versions. */
	uint32_t nversions;
	/* Go (process-wide, written with atomic adds): change counters of data
	 * shared by every core. Lua keeps per-state copies of that data and
	 * drops a copy when its counter moved (lj/lua/vars.lua, map.lua). */
	const uint32_t *versions;
	/* C: the result of the last converter run in C (le_b64 and friends);
	 * valid until the next one. */
	le_buf scratch;
	/* C (the state's allocator): bytes the state's Lua heap allocated so
	 * far, what it freed not deducted; a double, exact to 2^53, so Lua
	 * reads it without boxing. */
	double allocated;
	/* C (the CPU watchdog's hook): 1 once the running script was stopped
	 * with "execution timeout", until the run ends; no rule may recover
	 * from that error. */
	int32_t timed_out;
} le_loop;

/* Functions Lua calls through FFI function pointers (see lj/lua/bridge.lua). */
int le_buf_append(le_buf *b, const char *p, size_t n);
int le_add_rfield(le_stream *s, const char *name, size_t nlen, const char *value, size_t vlen);
int le_set_reason(le_stream *s, const char *p, size_t n);
int le_add_field(le_stream *s, const char *name, size_t nlen, const char *value, size_t vlen);
int le_buf_put(le_buf *b, const char *p, size_t n, le_span *out);
void le_buf_move(le_buf *b, uint32_t dst, uint32_t src, uint32_t n);
int le_del_fields(le_stream *s, int resp, const char *name, size_t n);
double le_now_us(void);
double le_mono_us(void);
int le_add_rtrailer(le_stream *s, const char *name, size_t nlen, const char *value, size_t vlen);
int le_end_msg(le_stream *s, int flags);

/* Converters in C (convert.c): le_b64's modes and le_hash's algorithms;
 * le_xxh32, le_xxh64 and le_xxh3 (signed, as HAProxy's converters). */
enum { LE_B64_ENC = 0, LE_B64_DEC = 1, LE_B64_UENC = 2, LE_B64_UDEC = 3 };
enum { LE_HASH_CRC32 = 1, LE_HASH_CRC32C = 2, LE_HASH_DJB2 = 3, LE_HASH_SDBM = 4, LE_HASH_WT6 = 5 };
int le_b64(le_buf *out, const char *p, size_t n, int mode);
uint32_t le_hash(int alg, const char *p, size_t n, int avalanche);
uint32_t le_xxh32(const char *p, size_t n, uint32_t seed);
int64_t le_xxh64(const char *p, size_t n, uint64_t seed);
int64_t le_xxh3(const char *p, size_t n, uint64_t seed);

#endif
