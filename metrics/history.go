package metrics

import (
	"sync"
	"time"
)

// History turns counters into what they do not say by themselves: rates
// (per second, over the last interval between two samples), their
// highest values and the most connections open at once, and the points
// of the stats page's charts. The program adds a snapshot of the counters
// every second (Add); readers ask at any time. A new generation (a
// reload) starts its counters from 0: its first sample gives no rate,
// and the maxima start again, as HAProxy's do.
//
// Its methods are safe for concurrent use.
type History struct {
	mu     sync.Mutex
	gen    int
	prev   *Snapshot // the last sample
	prevAt time.Time
	rates  map[string]*Rates // by rateKey
	points []Point           // oldest first, at most HistoryLen
}

// HistoryLen is how many points the charts keep: two minutes at one
// sample a second.
const HistoryLen = 120

// Rates are the rates and maxima of a frontend, a backend or a server
// (conn rates: frontends only, request rates: per frontend the requests
// started, per backend and server the requests sent to them).
type Rates struct {
	ConnRate, ConnRateMax int64
	ReqRate, ReqRateMax   int64
	SessionsMax           int64 // frontends: most connections open at a sample
	BytesInRate           int64
	BytesOutRate          int64
	// ResponseTime is a backend's mean Tr over the last interval (0
	// without a response).
	ResponseTime time.Duration
}

// Point is one sample of the charts, over every frontend and backend.
type Point struct {
	Time                   time.Time
	ReqRate, ConnRate      int64
	BytesInRate, BytesOut  int64 // per second
	Sessions               int64 // client connections open
	ResponseTime           time.Duration
	Status5xx, RequestErrs int64 // per second
}

// NewHistory returns an empty history.
func NewHistory() *History { return &History{rates: map[string]*Rates{}} }

// The keys of rates: the process's, a frontend's, a backend's, a server's.
const procKey = "p"

func feKey(name string) string          { return "f\x00" + name }
func beKey(name string) string          { return "b\x00" + name }
func svKey(backend, name string) string { return "s\x00" + backend + "\x00" + name }

// Add takes the sample s of the counters (a snapshot, the Lua parts not
// needed) taken at now.
func (h *History) Add(now time.Time, s *Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.prev != nil && s.Generation != h.gen {
		h.prev = nil
		h.rates = map[string]*Rates{}
	}
	h.gen = s.Generation
	prev, dt := h.prev, now.Sub(h.prevAt).Seconds()
	h.prev, h.prevAt = s, now
	if prev == nil || dt <= 0 {
		for _, f := range s.Frontends {
			h.rate(feKey(f.Name)).SessionsMax = max(h.rate(feKey(f.Name)).SessionsMax, f.Sessions)
		}
		return
	}
	per := func(cur, old int64) int64 {
		if cur < old {
			return 0
		}
		return int64(float64(cur-old)/dt + 0.5)
	}
	p := Point{Time: now}
	var rt, timed int64
	for _, f := range s.Frontends {
		r := h.rate(feKey(f.Name))
		old := findFrontend(prev, f.Name)
		r.ConnRate = per(f.SessionsTotal, old.SessionsTotal)
		r.ReqRate = per(f.Requests, old.Requests)
		r.BytesInRate = per(f.BytesIn, old.BytesIn)
		r.BytesOutRate = per(f.BytesOut, old.BytesOut)
		r.ConnRateMax = max(r.ConnRateMax, r.ConnRate)
		r.ReqRateMax = max(r.ReqRateMax, r.ReqRate)
		r.SessionsMax = max(r.SessionsMax, f.Sessions)
		p.ReqRate += r.ReqRate
		p.ConnRate += r.ConnRate
		p.BytesInRate += r.BytesInRate
		p.BytesOut += r.BytesOutRate
		p.Sessions += f.Sessions
		p.Status5xx += per(f.Responses[Class5xx], old.Responses[Class5xx])
		p.RequestErrs += per(f.RequestErrors, old.RequestErrors)
	}
	for _, b := range s.Backends {
		r := h.rate(beKey(b.Name))
		old := findBackend(prev, b.Name)
		r.ReqRate = per(b.Requests, old.Requests)
		r.ReqRateMax = max(r.ReqRateMax, r.ReqRate)
		r.BytesInRate = per(b.BytesIn, old.BytesIn)
		r.BytesOutRate = per(b.BytesOut, old.BytesOut)
		r.ResponseTime = 0
		if n := b.Timed - old.Timed; n > 0 {
			r.ResponseTime = time.Duration((b.ResponseTime - old.ResponseTime) / n)
			rt += b.ResponseTime - old.ResponseTime
			timed += n
		}
		for _, sv := range b.Servers {
			r := h.rate(svKey(b.Name, sv.Name))
			r.ReqRate = per(sv.Total, findServer(old, sv.Name).Total)
			r.ReqRateMax = max(r.ReqRateMax, r.ReqRate)
		}
	}
	if timed > 0 {
		p.ResponseTime = time.Duration(rt / timed)
	}
	pr := h.rate(procKey)
	pr.ConnRate, pr.ReqRate, pr.BytesInRate, pr.BytesOutRate, pr.ResponseTime = p.ConnRate, p.ReqRate, p.BytesInRate, p.BytesOut, p.ResponseTime
	pr.ConnRateMax = max(pr.ConnRateMax, p.ConnRate)
	pr.ReqRateMax = max(pr.ReqRateMax, p.ReqRate)
	pr.SessionsMax = max(pr.SessionsMax, p.Sessions)
	if len(h.points) == HistoryLen {
		copy(h.points, h.points[1:])
		h.points = h.points[:HistoryLen-1]
	}
	h.points = append(h.points, p)
}

// rate returns the rates of key, made on first use; h.mu is held.
func (h *History) rate(key string) *Rates {
	r := h.rates[key]
	if r == nil {
		r = &Rates{}
		h.rates[key] = r
	}
	return r
}

func findFrontend(s *Snapshot, name string) FrontendSnapshot {
	for _, f := range s.Frontends {
		if f.Name == name {
			return f
		}
	}
	return FrontendSnapshot{}
}

func findBackend(s *Snapshot, name string) BackendSnapshot {
	for _, b := range s.Backends {
		if b.Name == name {
			return b
		}
	}
	return BackendSnapshot{}
}

func findServer(b BackendSnapshot, name string) ServerSnapshot {
	for _, sv := range b.Servers {
		if sv.Name == name {
			return sv
		}
	}
	return ServerSnapshot{}
}

// Frontend returns the rates of a frontend (zero before two samples).
func (h *History) Frontend(name string) Rates { return h.get(feKey(name)) }

// Backend returns the rates of a backend.
func (h *History) Backend(name string) Rates { return h.get(beKey(name)) }

// Server returns the rates of a backend's server.
func (h *History) Server(backend, name string) Rates { return h.get(svKey(backend, name)) }

func (h *History) get(key string) Rates {
	if h == nil {
		return Rates{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rates[key]; r != nil {
		return *r
	}
	return Rates{}
}

// Points returns the charts' points, oldest first.
func (h *History) Points() []Point {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Point(nil), h.points...)
}

// Process returns the rates summed over every frontend (the response
// time over every backend).
func (h *History) Process() Rates { return h.get(procKey) }
