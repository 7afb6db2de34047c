package edge

import (
	"fmt"

	"github.com/luaedge/luaedge/accesslog"
	"github.com/luaedge/luaedge/config"
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
	levels, err := accessLogLevels(al)
	if err != nil {
		return fmt.Errorf("frontends[%d].access_log.%v", i, err)
	}
	f.stream.Log = &stream.AccessLog{Sink: sink, Format: format, Levels: levels, SeparateErrors: al.SeparateErrors, Empty: al.LogEmpty}
	return nil
}

// accessLogLevels reads the facility and levels of an access log; its
// error starts with the key's name.
func accessLogLevels(al config.AccessLog) (accesslog.Levels, error) {
	v := accesslog.DefaultLevels
	var err error
	if al.Facility != "" {
		if v.Facility, err = accesslog.ParseFacility(al.Facility); err != nil {
			return v, fmt.Errorf("facility: %v", err)
		}
	}
	if al.Level != "" {
		if v.Max, err = accesslog.ParseLevel(al.Level); err != nil {
			return v, fmt.Errorf("level: %v", err)
		}
	}
	if al.MinLevel != "" {
		if v.Min, err = accesslog.ParseLevel(al.MinLevel); err != nil {
			return v, fmt.Errorf("min_level: %v", err)
		}
	}
	return v, nil
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
