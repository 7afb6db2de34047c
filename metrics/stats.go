package metrics

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"time"
)

// Stats is what the stats page shows: a snapshot with the history's rates
// and maxima, frontends, backends and their servers numbered as the
// runtime socket's "show stat" numbers them. It is also the page's
// ?format=json form (docs/operations.md lists its keys).
type Stats struct {
	Version    string          `json:"version"`
	Pid        int             `json:"pid"`
	Generation int             `json:"generation"`
	Uptime     float64         `json:"uptime_seconds"`
	Loops      int             `json:"loops"`
	Refresh    float64         `json:"refresh_seconds"`
	Process    ProcessStats    `json:"process"`
	Frontends  []FrontendStats `json:"frontends"`
	Backends   []BackendStats  `json:"backends"`
	PerLoop    []LoopStats     `json:"per_loop"`
	Functions  []FunctionStats `json:"lua_functions"`
	History    []HistoryPoint  `json:"history"`
}

// ProcessStats sums the frontends.
type ProcessStats struct {
	Sessions      int64   `json:"current_sessions"`
	SessionsMax   int64   `json:"max_sessions"`
	SessionsTotal int64   `json:"sessions_total"`
	Requests      int64   `json:"requests_total"`
	ConnRate      int64   `json:"conn_rate"`
	ConnRateMax   int64   `json:"conn_rate_max"`
	ReqRate       int64   `json:"req_rate"`
	ReqRateMax    int64   `json:"req_rate_max"`
	BytesIn       int64   `json:"bytes_in"`
	BytesOut      int64   `json:"bytes_out"`
	BytesOutRate  int64   `json:"bytes_out_rate"`
	LuaMemory     int64   `json:"lua_memory_bytes"`
	CgoCalls      int64   `json:"cgo_calls"`
	ResponseTime  float64 `json:"response_time_ms"`
}

// Sessions are current, most at once, and total; Limit is 0 for none.
type Sessions struct {
	Current int64 `json:"current"`
	Max     int64 `json:"max"`
	Total   int64 `json:"total"`
	Limit   int   `json:"limit,omitempty"`
}

// Queue is the requests waiting for a server: luaedge has no queue (a
// request no server can take is answered 503), so both are 0.
type Queue struct {
	Current int64 `json:"current"`
	Max     int64 `json:"max"`
}

// FrontendStats is a frontend's line.
type FrontendStats struct {
	ID            int              `json:"iid"`
	Name          string           `json:"name"`
	Mode          string           `json:"mode"`
	Status        string           `json:"status"`
	Sessions      Sessions         `json:"sessions"`
	ConnRate      int64            `json:"conn_rate"`
	ConnRateMax   int64            `json:"conn_rate_max"`
	ReqRate       int64            `json:"req_rate"`
	ReqRateMax    int64            `json:"req_rate_max"`
	Requests      int64            `json:"requests_total"`
	BytesIn       int64            `json:"bytes_in"`
	BytesOut      int64            `json:"bytes_out"`
	Responses     map[string]int64 `json:"responses"`
	RequestErrors int64            `json:"request_errors"`
}

// BackendStats is a backend's line and its servers'.
type BackendStats struct {
	ID             int              `json:"iid"`
	Name           string           `json:"name"`
	Algo           string           `json:"algo"`
	Status         string           `json:"status"`
	Sessions       Sessions         `json:"sessions"`
	Queue          Queue            `json:"queue"`
	Weight         int              `json:"weight"`
	ActiveServers  int              `json:"active_servers"`
	BackupServers  int              `json:"backup_servers"`
	Rate           int64            `json:"rate"`
	RateMax        int64            `json:"rate_max"`
	Requests       int64            `json:"requests_total"`
	BytesIn        int64            `json:"bytes_in"`
	BytesOut       int64            `json:"bytes_out"`
	Responses      map[string]int64 `json:"responses"`
	ConnectErrors  int64            `json:"connect_errors"`
	ResponseErrors int64            `json:"response_errors"`
	// Retries and Redispatches are its servers' (wretr, wredis).
	Retries      int64 `json:"retries"`
	Redispatches int64 `json:"redispatches"`
	// ResponseTime is the mean Tr over the last second; ResponseTimeAvg
	// over the generation.
	ResponseTime    float64       `json:"response_time_ms"`
	ResponseTimeAvg float64       `json:"response_time_avg_ms"`
	Servers         []ServerStats `json:"servers"`
}

// ServerStats is a server's line.
type ServerStats struct {
	ID            int        `json:"sid"`
	Name          string     `json:"name"`
	Address       string     `json:"address"`
	Status        string     `json:"status"`
	Admin         string     `json:"admin"`
	Backup        bool       `json:"backup"`
	Weight        int        `json:"weight"`
	InitialWeight int        `json:"initial_weight"`
	Sessions      Sessions   `json:"sessions"`
	Queue         Queue      `json:"queue"`
	Rate          int64      `json:"rate"`
	RateMax       int64      `json:"rate_max"`
	ConnectErrors int64      `json:"connect_errors"`
	Retries       int64      `json:"retries"`
	Redispatches  int64      `json:"redispatches"`
	LastChange    int64      `json:"last_change_seconds"`
	Check         CheckStats `json:"check"`
}

// CheckStats is a server's health checking.
type CheckStats struct {
	Configured bool    `json:"configured"`
	Enabled    bool    `json:"enabled"`
	Status     string  `json:"status"`
	Code       int     `json:"code,omitempty"`
	Duration   float64 `json:"duration_ms"`
	Health     int     `json:"health"`
	Rise       int     `json:"rise"`
	Fall       int     `json:"fall"`
	Failures   int64   `json:"failures"`
	Downs      int64   `json:"downs"`
}

// LoopStats is an event loop's line: its Lua state's memory, its client
// connections open and the requests it started.
type LoopStats struct {
	Loop      int   `json:"loop"`
	LuaMemory int64 `json:"lua_memory_bytes"`
	Sessions  int64 `json:"current_sessions"`
	Requests  int64 `json:"requests_total"`
}

// FunctionStats is a registered Lua function's line.
type FunctionStats struct {
	Kind     string  `json:"kind"`
	Name     string  `json:"name"`
	Source   string  `json:"source"`
	Calls    int64   `json:"calls"`
	Errors   int64   `json:"errors"`
	Timeouts int64   `json:"timeouts"`
	CPU      float64 `json:"cpu_seconds"`
	Alloc    int64   `json:"allocated_bytes"`
}

// HistoryPoint is a second of the charts.
type HistoryPoint struct {
	Time          int64   `json:"time_ms"` // Unix time
	ReqRate       int64   `json:"req_rate"`
	ConnRate      int64   `json:"conn_rate"`
	BytesInRate   int64   `json:"bytes_in_rate"`
	BytesOutRate  int64   `json:"bytes_out_rate"`
	Sessions      int64   `json:"current_sessions"`
	ResponseTime  float64 `json:"response_time_ms"`
	Errors5xx     int64   `json:"status_5xx_rate"`
	RequestErrors int64   `json:"request_errors_rate"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func classes(r [NumClasses]int64) map[string]int64 {
	m := make(map[string]int64, NumClasses)
	for i, n := range r {
		m[ClassNames[i]] = n
	}
	return m
}

// StatsOf makes the page's stats from a snapshot and the history (nil:
// no rates). Frontends are numbered from 1 (iid), backends after them.
func StatsOf(s *Snapshot, h *History, refresh time.Duration) *Stats {
	st := &Stats{Version: s.Version, Pid: os.Getpid(), Generation: s.Generation, Uptime: s.Uptime.Seconds(),
		Loops: s.Loops, Refresh: refresh.Seconds()}
	pr := h.Process()
	st.Process = ProcessStats{ConnRate: pr.ConnRate, ConnRateMax: pr.ConnRateMax, ReqRate: pr.ReqRate, ReqRateMax: pr.ReqRateMax,
		BytesOutRate: pr.BytesOutRate, SessionsMax: pr.SessionsMax, CgoCalls: s.CgoCalls, ResponseTime: ms(pr.ResponseTime)}
	for i, f := range s.Frontends {
		r := h.Frontend(f.Name)
		fs := FrontendStats{ID: i + 1, Name: f.Name, Mode: f.Mode, Status: f.Status,
			Sessions: Sessions{Current: f.Sessions, Max: max(r.SessionsMax, f.Sessions), Total: f.SessionsTotal},
			ConnRate: r.ConnRate, ConnRateMax: r.ConnRateMax, ReqRate: r.ReqRate, ReqRateMax: r.ReqRateMax,
			Requests: f.Requests, BytesIn: f.BytesIn, BytesOut: f.BytesOut, RequestErrors: f.RequestErrors,
		}
		if f.Mode != "tcp" {
			fs.Responses = classes(f.Responses)
		}
		st.Frontends = append(st.Frontends, fs)
		st.Process.Sessions += f.Sessions
		st.Process.SessionsTotal += f.SessionsTotal
		st.Process.Requests += f.Requests
		st.Process.BytesIn += f.BytesIn
		st.Process.BytesOut += f.BytesOut
	}
	st.Process.SessionsMax = max(st.Process.SessionsMax, st.Process.Sessions)
	for i, b := range s.Backends {
		r := h.Backend(b.Name)
		bs := BackendStats{ID: len(s.Frontends) + i + 1, Name: b.Name, Algo: b.Algo, Status: b.Status,
			Sessions: Sessions{Current: b.Current, Max: b.Max, Total: b.Total},
			Weight:   b.Weight, ActiveServers: b.ActiveServers, BackupServers: b.BackupServers,
			Rate: r.ReqRate, RateMax: r.ReqRateMax, Requests: b.Requests, BytesIn: b.BytesIn, BytesOut: b.BytesOut,
			Responses: classes(b.Responses), ConnectErrors: b.ConnectErrors, ResponseErrors: b.ResponseErrors,
			ResponseTime: ms(r.ResponseTime),
		}
		if b.Timed > 0 {
			bs.ResponseTimeAvg = ms(time.Duration(b.ResponseTime / b.Timed))
		}
		for _, sv := range b.Servers {
			sr := h.Server(b.Name, sv.Name)
			c := sv.Check
			bs.Servers = append(bs.Servers, ServerStats{ID: sv.ID, Name: sv.Name, Address: sv.Address, Status: sv.Status,
				Admin: sv.Admin, Backup: sv.Backup, Weight: sv.Weight, InitialWeight: sv.InitialWeight,
				Sessions: Sessions{Current: int64(sv.Active), Max: sv.MaxActive, Total: sv.Total, Limit: sv.MaxConn},
				Rate:     sr.ReqRate, RateMax: sr.ReqRateMax, ConnectErrors: sv.ConnectErrors,
				Retries: sv.Retries, Redispatches: sv.Redispatches,
				LastChange: int64(sv.LastChange / time.Second),
				Check: CheckStats{Configured: c.Configured, Enabled: c.Enabled, Status: c.Status, Code: c.Code,
					Duration: ms(c.Duration), Health: c.Health, Rise: c.Rise, Fall: c.Fall, Failures: c.Failures, Downs: c.Downs},
			})
			bs.Retries += sv.Retries
			bs.Redispatches += sv.Redispatches
		}
		st.Backends = append(st.Backends, bs)
	}
	for i := range s.LoopSessions {
		l := LoopStats{Loop: i + 1, Sessions: s.LoopSessions[i]}
		if i < len(s.LoopRequests) {
			l.Requests = s.LoopRequests[i]
		}
		if i < len(s.LuaMemory) {
			l.LuaMemory = s.LuaMemory[i]
			st.Process.LuaMemory += l.LuaMemory
		}
		st.PerLoop = append(st.PerLoop, l)
	}
	for _, f := range s.Functions {
		st.Functions = append(st.Functions, FunctionStats{Kind: f.Kind, Name: f.Name, Source: f.Source,
			Calls: f.Calls, Errors: f.Errors, Timeouts: f.Timeouts, CPU: f.CPU.Seconds(), Alloc: f.Alloc})
	}
	for _, p := range h.Points() {
		st.History = append(st.History, HistoryPoint{Time: p.Time.UnixMilli(), ReqRate: p.ReqRate, ConnRate: p.ConnRate,
			BytesInRate: p.BytesInRate, BytesOutRate: p.BytesOut, Sessions: p.Sessions, ResponseTime: ms(p.ResponseTime),
			Errors5xx: p.Status5xx, RequestErrors: p.RequestErrs})
	}
	return st
}

//go:embed stats.html
var statsPage []byte

// StatsHandler serves the stats page at its path: the HTML page, which
// reads its ?format=json form every refresh; the CSV of HAProxy's "show
// stat" at path;csv (as HAProxy's page serves it) or ?format=csv; the
// JSON at ?format=json. hist gives the rates (nil: none).
func StatsHandler(src Source, hist *History, refresh time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := r.URL.Query().Get("format")
		if strings.HasSuffix(r.URL.Path, ";csv") {
			format = "csv"
		}
		w.Header().Set("Cache-Control", "no-cache")
		if format == "" || format == "html" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(statsPage)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout)
		defer cancel()
		s := src(ctx)
		if s == nil {
			http.Error(w, "not serving yet", http.StatusServiceUnavailable)
			return
		}
		st := StatsOf(s, hist, refresh)
		switch format {
		case "json":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(st)
		case "csv":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte(st.CSV(CSVFilter{})))
		default:
			http.Error(w, "format: html, json or csv", http.StatusBadRequest)
		}
	})
}
