package edge

import (
	"fmt"
	"strings"

	"github.com/luaedge/luaedge/accesslog"
	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/stream"
)

// addAccessLog sets up frontend f's access log (the i-th frontend of the
// configuration): a target per log target, sharing the sink of any
// frontend's target that writes to the same place the same way.
func (s *Server) addAccessLog(f *frontend, i int) error {
	al, ok := s.cfg.FrontendAccessLog(i)
	if !ok {
		return nil
	}
	format, err := accesslog.ParseFormat(al.Format, f.cfg.Mode == "tcp", accesslog.Captures{Request: len(f.cfg.Capture.Request), Response: len(f.cfg.Capture.Response), Cookie: f.cfg.Capture.Cookie != nil})
	if err != nil {
		return fmt.Errorf("frontends[%d].access_log.format: %v", i, err)
	}
	lg := &stream.AccessLog{Format: format, SeparateErrors: al.SeparateErrors, Empty: al.LogEmpty}
	targets := al.LogTargets()
	for j, lt := range targets {
		key := fmt.Sprintf("frontends[%d].access_log.", i)
		if len(al.Targets) > 0 {
			key += fmt.Sprintf("targets[%d].", j)
		}
		t, err := s.logTarget(al, lt)
		if err != nil {
			return fmt.Errorf("%s%v", key, err)
		}
		lg.Targets = append(lg.Targets, t)
	}
	f.stream.Log = lg
	return nil
}

// logTarget makes the target lt of access log al, with the sink it
// writes to; its error starts with the key's name.
func (s *Server) logTarget(al config.AccessLog, lt config.LogTarget) (accesslog.Target, error) {
	levels, err := accessLogLevels(lt)
	if err != nil {
		return accesslog.Target{}, err
	}
	t := accesslog.Target{Levels: levels}
	if lt.Sample != "" {
		if t.Sample, err = accesslog.ParseSample(lt.Sample); err != nil {
			return t, fmt.Errorf("sample: %v", err)
		}
	}
	y := accesslog.Syslog{Tag: al.Tag, Hostname: al.Hostname, Len: lt.Length}
	if y.Tag == "" {
		y.Tag = accesslog.DefaultTag
	}
	if y.Hostname == "%H" {
		y.Hostname = accesslog.Hostname()
	}
	if y.Len < 0 {
		return t, fmt.Errorf("length: %d is negative", y.Len)
	}
	switch {
	case lt.SyslogFormat != "":
		if y.Header, err = accesslog.ParseHeader(lt.SyslogFormat); err != nil {
			return t, fmt.Errorf("syslog_format: %v", err)
		}
	case strings.HasPrefix(lt.To, "syslog://") || strings.HasPrefix(lt.To, "unix://"):
		y.Header = accesslog.HeaderRFC5424
	}
	for _, k := range s.sinks {
		if k.Target == lt.To && k.Syslog == y {
			t.Sink = k
			return t, nil
		}
	}
	t.Sink, err = accesslog.New(len(s.sinks), lt.To, s.cfg.Dir, y)
	if err != nil {
		return t, fmt.Errorf("to: %v", err)
	}
	s.sinks = append(s.sinks, t.Sink)
	return t, nil
}

// accessLogLevels reads the facility and levels of a log target; its
// error starts with the key's name.
func accessLogLevels(al config.LogTarget) (accesslog.Levels, error) {
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
		m[sink.Target] += sink.Dropped() // the same target may have sinks of several headers
	}
	return m
}
