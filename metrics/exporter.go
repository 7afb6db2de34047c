package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Snapshot is what the exporter, the stats page and the runtime socket
// read: the per-loop counters summed, and what the loops report of their
// Lua states. Its maker (the server) fills it when asked, on the
// reader's goroutine.
type Snapshot struct {
	Uptime time.Duration
	Loops  int
	// Version and Generation are the program's: its version and the
	// number of the generation (reload) the counters are of.
	Version    string
	Generation int
	Frontends  []FrontendSnapshot
	Backends   []BackendSnapshot
	// LuaMemory is each loop's Lua state's heap, by loop (nil in a
	// snapshot of the counters only).
	LuaMemory []int64
	// LoopSessions and LoopRequests are each loop's client connections
	// open and requests started, by loop.
	LoopSessions, LoopRequests []int64
	Functions                  []FunctionSnapshot
	// AccessLogDropped counts, by target, the lines dropped because the
	// sink fell behind.
	AccessLogDropped map[string]int64
	// CgoCalls counts the process's calls from Go into C.
	CgoCalls int64
	// Conns is the top-level maxconn's state; zero when none is set.
	Conns ConnLimit
}

// ConnLimit is the state of a maxconn: the bound, the connections holding
// a slot, those waiting for one.
type ConnLimit struct{ Max, Open, Waiting int64 }

// FrontendSnapshot is one frontend's counters.
type FrontendSnapshot struct {
	Name, Mode string
	// Status is "OPEN", or "STOP" when a script paused or stopped it.
	Status string
	FrontendTotals
	// Conns is the frontend's maxconn state; zero when none is set.
	Conns ConnLimit
}

// BackendSnapshot is one backend's counters and servers.
type BackendSnapshot struct {
	Name, Algo string
	BackendTotals
	// Current, Max and Total count the requests picked a server: in
	// flight now, the most at once, since the start.
	Current, Max, Total int64
	// Status is "UP" while a server can take requests, else "DOWN";
	// ActiveServers and BackupServers count those that can, Weight sums
	// their weights.
	Status                       string
	ActiveServers, BackupServers int
	Weight                       int
	Servers                      []ServerSnapshot
	// Queue is how many requests wait for a server under its maxconn,
	// QueueMax the most that waited at once.
	Queue, QueueMax int
}

// ServerSnapshot is one server's state.
type ServerSnapshot struct {
	Name   string
	Up     bool // its health checks (or none) say up
	Weight int
	Active int // connections in use

	ID      int // 1-based, in the backend's configuration order
	Address string
	Backup  bool
	// Status is "UP", "DOWN", "NOLB", "DRAIN", "MAINT", or "no check" for
	// a server up without checks; Admin is "ready", "drain" or "maint".
	Status, Admin string
	InitialWeight int   // the configuration's
	MaxActive     int64 // the most requests in flight at once
	Total         int64 // requests picked it
	MaxConn       int   // its limit of requests in flight; 0: none
	ConnectErrors int64
	// Retries are the requests sent again after their connection to it
	// or its answer failed (HAProxy's wretr), Redispatches the requests
	// moved from it to another server (wredis), as HAProxy counts them.
	Retries, Redispatches int64
	// LastChange is how long ago the server last went up or down.
	LastChange time.Duration
	Check      CheckSnapshot
}

// CheckSnapshot is a server's health checking.
type CheckSnapshot struct {
	Configured, Enabled bool
	// Status is the last check's result (HAProxy's L4OK, L4CON, L7OK,
	// L7STS...; "" before the first), Code its HTTP status (0: none).
	Status   string
	Code     int
	Duration time.Duration
	// Health counts from 0 to Rise+Fall-1: up from Rise on.
	Health, Rise, Fall int
	// Failures counts failed checks, Downs the times it went down.
	Failures, Downs int64
}

// FunctionSnapshot is what the Lua states counted for one registered
// function, summed over the loops.
type FunctionSnapshot struct {
	Kind, Name, Source      string
	Calls, Errors, Timeouts int64
	CPU                     time.Duration
	Alloc                   int64
}

// Source gives snapshots; ctx bounds the wait for the loops.
type Source func(ctx context.Context) *Snapshot

// scrapeTimeout bounds a scrape's wait for the loops (one held by a
// script that never yields).
const scrapeTimeout = 2 * time.Second

// Handler serves the Prometheus exposition of src's snapshots.
func Handler(src Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{src: src})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// collector turns a snapshot into metrics at each scrape.
type collector struct{ src Source }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("luaedge_"+name, help, labels, nil)
}

// The metrics, named as HAProxy's exporter names them where it has them
// (haproxy_ becomes luaedge_).
var (
	feCurSessions    = desc("frontend_current_sessions", "Current client connections.", "proxy")
	feSessions       = desc("frontend_sessions_total", "Client connections accepted.", "proxy")
	feRequests       = desc("frontend_http_requests_total", "HTTP requests started.", "proxy")
	feResponses      = desc("frontend_http_responses_total", "HTTP responses sent, by status class (1xx-5xx, other).", "proxy", "code")
	feReqErrors      = desc("frontend_request_errors_total", "Requests refused for themselves (400, 408, 413, 414, 431).", "proxy")
	feBytesIn        = desc("frontend_bytes_in_total", "Request body bytes received (TCP: all bytes), counted as each request or connection ends.", "proxy")
	feBytesOut       = desc("frontend_bytes_out_total", "Response bytes sent, heads and bodies (TCP: all bytes), counted as each request or connection ends.", "proxy")
	feLimitSessions  = desc("frontend_limit_sessions", "The frontend's maxconn.", "proxy")
	feWaitingConns   = desc("frontend_waiting_connections", "Connections accepted past the frontend's maxconn, waiting for one to close.", "proxy")
	beStatus         = desc("backend_status", "1 when at least one of the backend's servers is up.", "proxy")
	beActive         = desc("backend_active_servers", "Servers up.", "proxy")
	beRequests       = desc("backend_http_requests_total", "Requests (TCP: connections) sent to the backend's servers.", "proxy")
	beResponses      = desc("backend_http_responses_total", "Responses from the backend's servers, by status class.", "proxy", "code")
	beConnErrors     = desc("backend_connection_errors_total", "Exchanges that found no server or could not connect to one.", "proxy")
	beRespErrors     = desc("backend_response_errors_total", "Exchanges whose server failed or timed out after the connection.", "proxy")
	beResponseTime   = desc("backend_response_time_seconds", "Time the servers took to send a response head after the connection (Tr).", "proxy")
	beRetries        = desc("backend_retry_warnings_total", "Retries: requests sent again after their connection or their server's answer failed (wretr, its servers' summed).", "proxy")
	beRedispatches   = desc("backend_redispatch_warnings_total", "Retries that went to another server (wredis, its servers' summed).", "proxy")
	beCurQueue       = desc("backend_current_queue", "Requests waiting in the backend's queue for a server under its maxconn.", "proxy")
	beMaxQueue       = desc("backend_max_queue", "The most requests that waited in the backend's queue at once.", "proxy")
	srvStatus        = desc("server_status", "1 when the server is up.", "proxy", "server")
	srvWeight        = desc("server_weight", "The server's weight.", "proxy", "server")
	srvCurSessions   = desc("server_current_sessions", "Connections to the server in use.", "proxy", "server")
	srvRetries       = desc("server_retry_warnings_total", "Retries of requests whose connection to the server or whose answer failed (wretr).", "proxy", "server")
	srvRedispatches  = desc("server_redispatch_warnings_total", "Retries moved from the server to another (wredis).", "proxy", "server")
	srvCurQueue      = desc("server_current_queue", "Requests waiting for this server in particular: always 0, luaedge's requests wait in their backend's queue, for any of its servers.", "proxy", "server")
	procUptime       = desc("process_uptime_seconds", "Time since the process started.")
	procLoops        = desc("process_loops", "Event loops (one LuaJIT state each).")
	procMaxConns     = desc("process_max_connections", "The top-level maxconn.")
	procCurConns     = desc("process_current_connections", "Client connections holding a slot of the top-level maxconn.")
	procWaitingConns = desc("process_waiting_connections", "Connections accepted past the top-level maxconn, waiting for one to close.")
	luaMemory        = desc("lua_memory_bytes", "Bytes held by each loop's Lua state.", "loop")
	fnCalls          = desc("lua_function_calls_total", "Calls of a function a script registered.", "kind", "name", "source")
	fnErrors         = desc("lua_function_errors_total", "Calls that raised an error.", "kind", "name", "source")
	fnTimeouts       = desc("lua_function_timeouts_total", "Calls the CPU watchdog stopped.", "kind", "name", "source")
	fnCPU            = desc("lua_function_cpu_seconds_total", "Time the calls ran, without the time they waited.", "kind", "name", "source")
	fnAlloc          = desc("lua_function_allocated_bytes_total", "Lua heap bytes the calls allocated.", "kind", "name", "source")
	cgoCalls         = desc("cgo_calls_total", "Calls from Go into C (LuaJIT), process-wide.")
	accessLogDropped = desc("access_log_dropped_lines_total", "Access-log lines dropped because their sink fell behind.", "target")
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{feCurSessions, feSessions, feRequests, feResponses, feReqErrors, feBytesIn, feBytesOut, feLimitSessions, feWaitingConns,
		procMaxConns, procCurConns, procWaitingConns,
		beStatus, beActive, beRequests, beResponses, beConnErrors, beRespErrors, beRetries, beRedispatches, beResponseTime, beCurQueue, beMaxQueue,
		srvStatus, srvWeight, srvCurSessions, srvRetries, srvRedispatches, srvCurQueue,
		procUptime, procLoops, luaMemory, fnCalls, fnErrors, fnTimeouts, fnCPU, fnAlloc, cgoCalls, accessLogDropped} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s := c.src(ctx)
	if s == nil {
		return
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for i := range s.Frontends {
		f := &s.Frontends[i]
		gauge(feCurSessions, float64(f.Sessions), f.Name)
		counter(feSessions, f.SessionsTotal, f.Name)
		counter(feBytesIn, f.BytesIn, f.Name)
		counter(feBytesOut, f.BytesOut, f.Name)
		if f.Conns.Max > 0 {
			gauge(feLimitSessions, float64(f.Conns.Max), f.Name)
			gauge(feWaitingConns, float64(f.Conns.Waiting), f.Name)
		}
		if f.Mode == "tcp" {
			continue
		}
		counter(feRequests, f.Requests, f.Name)
		counter(feReqErrors, f.RequestErrors, f.Name)
		for k, n := range f.Responses {
			counter(feResponses, n, f.Name, ClassNames[k])
		}
	}
	for i := range s.Backends {
		b := &s.Backends[i]
		up := 0
		var retries, redispatches int64
		for _, sv := range b.Servers {
			gauge(srvStatus, boolValue(sv.Up), b.Name, sv.Name)
			gauge(srvWeight, float64(sv.Weight), b.Name, sv.Name)
			gauge(srvCurSessions, float64(sv.Active), b.Name, sv.Name)
			counter(srvRetries, sv.Retries, b.Name, sv.Name)
			counter(srvRedispatches, sv.Redispatches, b.Name, sv.Name)
			gauge(srvCurQueue, 0, b.Name, sv.Name)
			if sv.Up {
				up++
			}
			retries += sv.Retries
			redispatches += sv.Redispatches
		}
		gauge(beStatus, boolValue(up > 0), b.Name)
		gauge(beActive, float64(up), b.Name)
		gauge(beCurQueue, float64(b.Queue), b.Name)
		gauge(beMaxQueue, float64(b.QueueMax), b.Name)
		counter(beRequests, b.Requests, b.Name)
		for k, n := range b.Responses {
			counter(beResponses, n, b.Name, ClassNames[k])
		}
		counter(beConnErrors, b.ConnectErrors, b.Name)
		counter(beRespErrors, b.ResponseErrors, b.Name)
		counter(beRetries, retries, b.Name)
		counter(beRedispatches, redispatches, b.Name)
		ch <- prometheus.MustNewConstSummary(beResponseTime, uint64(b.Timed), time.Duration(b.ResponseTime).Seconds(), nil, b.Name)
	}
	gauge(procUptime, s.Uptime.Seconds())
	gauge(procLoops, float64(s.Loops))
	if s.Conns.Max > 0 {
		gauge(procMaxConns, float64(s.Conns.Max))
		gauge(procCurConns, float64(s.Conns.Open))
		gauge(procWaitingConns, float64(s.Conns.Waiting))
	}
	for i, m := range s.LuaMemory {
		gauge(luaMemory, float64(m), strconv.Itoa(i+1))
	}
	for i := range s.Functions {
		f := &s.Functions[i]
		counter(fnCalls, f.Calls, f.Kind, f.Name, f.Source)
		counter(fnErrors, f.Errors, f.Kind, f.Name, f.Source)
		counter(fnTimeouts, f.Timeouts, f.Kind, f.Name, f.Source)
		ch <- prometheus.MustNewConstMetric(fnCPU, prometheus.CounterValue, f.CPU.Seconds(), f.Kind, f.Name, f.Source)
		counter(fnAlloc, f.Alloc, f.Kind, f.Name, f.Source)
	}
	counter(cgoCalls, s.CgoCalls)
	for target, n := range s.AccessLogDropped {
		counter(accessLogDropped, n, target)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
