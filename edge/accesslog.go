package edge

import (
	"fmt"

	"github.com/luaedge/luaedge/accesslog"
	"github.com/luaedge/luaedge/stream"
)

// addAccessLog sets up frontend f's access log (the i-th frontend of the
// configuration), sharing the sink of any frontend logging to the same
// target.
func (s *Server) addAccessLog(f *frontend, i int) error {
	al, ok := s.cfg.FrontendAccessLog(i)
	if !ok {
		return nil
	}
	format, err := accesslog.ParseFormat(al.Format, f.cfg.Mode == "tcp", accesslog.Captures{Request: len(f.cfg.Capture.Request), Response: len(f.cfg.Capture.Response), Cookie: f.cfg.Capture.Cookie != nil})
	if err != nil {
		return fmt.Errorf("frontends[%d].access_log.format: %v", i, err)
	}
	var sink *accesslog.Sink
	for _, k := range s.sinks {
		if k.Target == al.To {
			sink = k
		}
	}
	if sink == nil {
		sink, err = accesslog.New(len(s.sinks), al.To, s.cfg.Dir)
		if err != nil {
			return fmt.Errorf("frontends[%d].access_log.to: %v", i, err)
		}
		s.sinks = append(s.sinks, sink)
	}
	f.stream.Log = &stream.AccessLog{Sink: sink, Format: format}
	return nil
}

// ReopenLogs has the access logs written to files reopen them (SIGUSR1,
// after a rotation).
func (s *Server) ReopenLogs() {
	for _, sink := range s.sinks {
		sink.Reopen()
	}
}

// AccessLogDropped is how many access-log lines were dropped because
// their sink fell behind, by target.
func (s *Server) AccessLogDropped() map[string]int64 {
	m := map[string]int64{}
	for _, sink := range s.sinks {
		m[sink.Target] = sink.Dropped()
	}
	return m
}
