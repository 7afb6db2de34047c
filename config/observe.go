package config

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// AccessLog is where and how a frontend logs its requests (access_log).
// In YAML it is either "off" or a map {to, format, ...}; its lines go to
// one target (to, facility, ...) or to each of Targets.
type AccessLog struct {
	Off bool `yaml:"-"`
	// To is stdout (the default), stderr, a file (relative to the
	// configuration's folder, reopened on SIGUSR1), syslog://HOST:PORT
	// (UDP) or unix:///PATH (a Unix datagram socket, as /dev/log).
	To string `yaml:"to,omitempty"`
	// Format is default (HAProxy's httplog or tcplog fields), json, or a
	// log-format string with HAProxy's %-variables.
	Format string `yaml:"format"`
	// SyslogFormat is the header of each line (HAProxy's log ... format):
	// raw, rfc3164, rfc5424, priority, short, timed or iso; default
	// rfc5424 to syslog:// and unix://, raw elsewhere.
	SyslogFormat string `yaml:"syslog_format,omitempty"`
	// Length cuts each message, header included, at this many bytes
	// (HAProxy's len); 0, the default: not cut.
	Length int `yaml:"length,omitempty"`
	// Sample sends some of the lines (HAProxy's sample RANGES:SIZE): of
	// each SIZE lines, those whose number is in RANGES (1,3-5).
	Sample string `yaml:"sample,omitempty"`
	// Facility is the syslog facility of the lines (kern ... local7);
	// default local0.
	Facility string `yaml:"facility,omitempty"`
	// Level is the least severe level sent (emerg ... debug): a line at a
	// level below it is not written; default debug, every line. Lines are
	// at info, or at what a request's set-log-level says, or at err for
	// an error with SeparateErrors.
	Level string `yaml:"level,omitempty"`
	// MinLevel is the most severe level a line is sent at: one more
	// severe is sent at MinLevel; default emerg.
	MinLevel string `yaml:"min_level,omitempty"`
	// SeparateErrors logs the exchanges that ended in an error at level
	// err (HAProxy's option log-separate-errors).
	SeparateErrors bool `yaml:"separate_errors,omitempty"`
	// LogEmpty logs the HTTP/1 connections closed, or timed out, before
	// their first byte (HAProxy without option dontlognull): 400 CR, or
	// 408 cR with the 408 answered after timeouts.http_request.
	LogEmpty bool `yaml:"log_empty,omitempty"`
	// Tag is the program's name in the rfc3164 and rfc5424 headers
	// (HAProxy's log-tag); default luaedge.
	Tag string `yaml:"tag,omitempty"`
	// Hostname is the host's name in the rfc3164 and rfc5424 headers
	// (HAProxy's log-send-hostname): %H for the machine's; default none.
	Hostname string `yaml:"hostname,omitempty"`
	// Targets are several targets, each of which gets every line its
	// levels take: with them, the map has none of the keys of a target.
	Targets []LogTarget `yaml:"targets,omitempty"`
}

// LogTarget is one target of an access log: the keys of the same names
// in AccessLog.
type LogTarget struct {
	To           string `yaml:"to"`
	Facility     string `yaml:"facility,omitempty"`
	Level        string `yaml:"level,omitempty"`
	MinLevel     string `yaml:"min_level,omitempty"`
	SyslogFormat string `yaml:"syslog_format,omitempty"`
	Length       int    `yaml:"length,omitempty"`
	Sample       string `yaml:"sample,omitempty"`
}

// LogTargets are the targets of the access log: Targets, or the one its
// own keys make.
func (a *AccessLog) LogTargets() []LogTarget {
	if len(a.Targets) > 0 {
		return a.Targets
	}
	return []LogTarget{{To: a.To, Facility: a.Facility, Level: a.Level, MinLevel: a.MinLevel, SyslogFormat: a.SyslogFormat, Length: a.Length, Sample: a.Sample}}
}

// hasTarget says whether the map has any key of a target.
func (a *AccessLog) hasTarget() bool {
	return a.LogTargets()[0] != LogTarget{}
}

// accessLogKeys are the keys of access_log's map; targetKeys those of a
// target (in the map, or in its targets).
var (
	accessLogKeys = []string{"to", "format", "facility", "level", "min_level", "syslog_format", "length", "sample", "separate_errors", "log_empty", "tag", "hostname", "targets"}
	targetKeys    = []string{"to", "facility", "level", "min_level", "syslog_format", "length", "sample"}
)

// UnmarshalYAML takes "off" (or "on") or a map.
func (a *AccessLog) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "off", "false":
			*a = AccessLog{Off: true}
			return nil
		case "on", "true":
			*a = AccessLog{}
			return nil
		}
		return fmt.Errorf("line %d: access_log: want off, on, or a map {to, format}, got %q", n.Line, n.Value)
	}
	// A custom unmarshaler's Decode does not refuse unknown keys as the
	// file's decoder does: check them here.
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !slices.Contains(accessLogKeys, k.Value) {
				return fmt.Errorf("line %d: access_log: unknown key %q (want %s)", k.Line, k.Value, strings.Join(accessLogKeys, ", "))
			}
			if v := n.Content[i+1]; k.Value == "targets" && v.Kind == yaml.SequenceNode {
				for _, t := range v.Content {
					for j := 0; t.Kind == yaml.MappingNode && j+1 < len(t.Content); j += 2 {
						if tk := t.Content[j]; !slices.Contains(targetKeys, tk.Value) {
							return fmt.Errorf("line %d: access_log.targets: unknown key %q (want %s)", tk.Line, tk.Value, strings.Join(targetKeys, ", "))
						}
					}
				}
			}
		}
	}
	type plain AccessLog
	if err := n.Decode((*plain)(a)); err != nil {
		return err
	}
	if len(a.Targets) > 0 {
		b := *a
		b.Targets = nil
		if b.hasTarget() {
			return fmt.Errorf("line %d: access_log: targets, or %s in the map, not both", n.Line, strings.Join(targetKeys, ", "))
		}
		for i, t := range a.Targets {
			if t.To == "" {
				return fmt.Errorf("line %d: access_log.targets[%d]: to is needed", n.Line, i)
			}
		}
	}
	return nil
}

// MarshalYAML writes "off", or the map (luaedge convert).
func (a AccessLog) MarshalYAML() (any, error) {
	if a.Off {
		return "off", nil
	}
	type plain AccessLog
	return plain(a), nil
}

// Admin is the admin listener: HTTP on its own address, for Prometheus,
// the stats page and the runtime commands.
type Admin struct {
	Bind string `yaml:"bind"`
	// Metrics is the path of the Prometheus metrics; default /metrics.
	Metrics string `yaml:"metrics"`
	// Stats is the path of the stats page (HAProxy's stats uri); default
	// /stats, "off" for none.
	Stats string `yaml:"stats"`
	// StatsRefresh is how often the stats page reads the numbers again
	// (HAProxy's stats refresh); default 5s.
	StatsRefresh Duration `yaml:"stats_refresh"`
	// Runtime is the path where a POST's body runs runtime commands, as
	// the runtime socket does; "" (the default) for none.
	Runtime string `yaml:"runtime"`
}

// DefaultStatsRefresh is admin.stats_refresh's default.
const DefaultStatsRefresh = 5 * time.Second

// DefaultAccessLogTarget is where logging frontends log by default.
const DefaultAccessLogTarget = "stdout"

// FrontendAccessLog is frontend i's access log, the top-level access_log
// filling what the frontend's leaves out. With neither, HTTP frontends
// log to stdout in the default format and TCP frontends do not log. ok
// is false when the frontend does not log.
func (c *Config) FrontendAccessLog(i int) (a AccessLog, ok bool) {
	f := &c.Frontends[i]
	switch {
	case f.AccessLog != nil && f.AccessLog.Off:
		return AccessLog{}, false
	case f.AccessLog != nil:
		a = *f.AccessLog
	case c.AccessLog != nil && c.AccessLog.Off:
		return AccessLog{}, false
	case c.AccessLog == nil && f.Mode == "tcp":
		return AccessLog{}, false
	}
	if c.AccessLog != nil {
		if len(a.Targets) == 0 && a.To == "" {
			a.Targets = c.AccessLog.Targets
		}
		// What the frontend leaves out, the top level says.
		a.Tag = cmp.Or(a.Tag, c.AccessLog.Tag)
		a.Hostname = cmp.Or(a.Hostname, c.AccessLog.Hostname)
		a.SyslogFormat = cmp.Or(a.SyslogFormat, c.AccessLog.SyslogFormat)
		a.Length = cmp.Or(a.Length, c.AccessLog.Length)
		a.Sample = cmp.Or(a.Sample, c.AccessLog.Sample)
		a.To = cmp.Or(a.To, c.AccessLog.To)
		a.Format = cmp.Or(a.Format, c.AccessLog.Format)
		a.Facility = cmp.Or(a.Facility, c.AccessLog.Facility)
		a.Level = cmp.Or(a.Level, c.AccessLog.Level)
		a.MinLevel = cmp.Or(a.MinLevel, c.AccessLog.MinLevel)
		a.SeparateErrors = a.SeparateErrors || c.AccessLog.SeparateErrors
		a.LogEmpty = a.LogEmpty || c.AccessLog.LogEmpty
	}
	if len(a.Targets) > 0 {
		// The frontend's targets, or the top level's: not mixed with
		// the keys of a target of the other.
		a.To, a.Facility, a.Level, a.MinLevel, a.SyslogFormat, a.Length, a.Sample = "", "", "", "", "", 0, ""
	}
	if len(a.Targets) == 0 && a.To == "" {
		a.To = DefaultAccessLogTarget
	}
	if a.Format == "" {
		a.Format = "default"
	}
	return a, true
}

func (c *Config) validateObserve() error {
	if a := c.Admin; a != nil {
		if _, _, err := net.SplitHostPort(a.Bind); err != nil {
			return fmt.Errorf("admin.bind: %v", err)
		}
		if a.Metrics == "" {
			a.Metrics = "/metrics"
		}
		if !strings.HasPrefix(a.Metrics, "/") {
			return fmt.Errorf("admin.metrics: a path starting with /, got %q", a.Metrics)
		}
		switch a.Stats {
		case "":
			a.Stats = "/stats"
		case "off":
			a.Stats = ""
		}
		if a.Stats != "" && !strings.HasPrefix(a.Stats, "/") {
			return fmt.Errorf("admin.stats: a path starting with /, or off, got %q", a.Stats)
		}
		if a.Runtime != "" && !strings.HasPrefix(a.Runtime, "/") {
			return fmt.Errorf("admin.runtime: a path starting with /, got %q", a.Runtime)
		}
		if a.StatsRefresh < 0 {
			return fmt.Errorf("admin.stats_refresh: %v is negative", a.StatsRefresh.D())
		}
		if a.StatsRefresh == 0 {
			a.StatsRefresh = Duration(DefaultStatsRefresh)
		}
		paths := map[string]string{}
		for _, p := range [][2]string{{"metrics", a.Metrics}, {"stats", a.Stats}, {"runtime", a.Runtime}} {
			if p[1] == "" {
				continue
			}
			if other, dup := paths[p[1]]; dup {
				return fmt.Errorf("admin.%s: %s is admin.%s's path too", p[0], p[1], other)
			}
			paths[p[1]] = p[0]
		}
	}
	return nil
}
