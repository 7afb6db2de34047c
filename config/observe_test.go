package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Several targets: a frontend's own, or the top level's, each whole;
// tag and hostname go to the frontends that do not set them.
func TestAccessLogTargets(t *testing.T) {
	c, err := Parse([]byte(`
access_log:
  tag: edge
  hostname: "%H"
  targets:
    - {to: "syslog://127.0.0.1:514", facility: local0}
    - {to: "syslog://127.0.0.1:515", facility: local1, level: notice, syslog_format: rfc3164, length: 200, sample: "1:2"}
frontends:
  - {name: a, bind: ["127.0.0.1:1"], use_service: lua.x}
  - {name: b, bind: ["127.0.0.1:2"], use_service: lua.x, access_log: {to: b.log, facility: local3}}
  - {name: c, bind: ["127.0.0.1:3"], use_service: lua.x, access_log: {tag: c, targets: [{to: stderr}, {to: c.log, syslog_format: raw}]}}
`), "/etc/luaedge")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		tag     string
		targets []LogTarget
	}{
		{"edge", []LogTarget{{To: "syslog://127.0.0.1:514", Facility: "local0"}, {To: "syslog://127.0.0.1:515", Facility: "local1", Level: "notice", SyslogFormat: "rfc3164", Length: 200, Sample: "1:2"}}},
		{"edge", []LogTarget{{To: "b.log", Facility: "local3"}}},
		{"c", []LogTarget{{To: "stderr"}, {To: "c.log", SyslogFormat: "raw"}}},
	} {
		a, ok := c.FrontendAccessLog(i)
		if got := a.LogTargets(); !ok || a.Tag != want.tag || a.Hostname != "%H" || fmt.Sprint(got) != fmt.Sprint(want.targets) {
			t.Errorf("frontend %d: %+v %v, want tag %s and targets %+v", i, a, ok, want.tag, want.targets)
		}
	}
}

func TestFrontendAccessLog(t *testing.T) {
	parse := func(y string) (*Config, error) { return Parse([]byte(y), "/etc/luaedge") }
	c, err := parse(`
access_log: {format: json}
frontends:
  - {name: a, bind: ["127.0.0.1:1"], use_service: lua.x}
  - {name: b, bind: ["127.0.0.1:2"], use_service: lua.x, access_log: {to: b.log}}
  - {name: c, bind: ["127.0.0.1:3"], use_service: lua.x, access_log: off}
  - {name: d, bind: ["127.0.0.1:4"], use_service: lua.x, mode: tcp}
`)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		ok         bool
		to, format string
	}{{true, "stdout", "json"}, {true, "b.log", "json"}, {false, "", ""}, {true, "stdout", "json"}} {
		a, ok := c.FrontendAccessLog(i)
		if ok != want.ok || a.To != want.to || a.Format != want.format {
			t.Errorf("frontend %d: %+v %v, want %+v", i, a, ok, want)
		}
	}
	// Without a top-level access_log, HTTP frontends log to stdout and TCP
	// frontends do not log.
	c, err = parse(`
frontends:
  - {name: a, bind: ["127.0.0.1:1"], use_service: lua.x}
  - {name: d, bind: ["127.0.0.1:4"], use_service: lua.x, mode: tcp}
  - {name: e, bind: ["127.0.0.1:5"], use_service: lua.x, mode: tcp, access_log: on}
`)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := c.FrontendAccessLog(0); !ok || a.To != "stdout" || a.Format != "default" {
		t.Errorf("HTTP frontend: %+v %v", a, ok)
	}
	if _, ok := c.FrontendAccessLog(1); ok {
		t.Error("a TCP frontend logs by default")
	}
	if _, ok := c.FrontendAccessLog(2); !ok {
		t.Error("access_log: on does not log")
	}
	for y, want := range map[string]string{
		`access_log: maybe`:                             "access_log: want off, on, or a map",
		`access_log: {to: x, fromat: json}`:             `access_log: unknown key "fromat"`,
		`access_log: {targets: [{to: x, format: raw}]}`: `access_log.targets: unknown key "format"`,
		`access_log: {to: x, targets: [{to: y}]}`:       "access_log: targets, or to, facility",
		`access_log: {targets: [{facility: local1}]}`:   "access_log.targets[0]: to is needed",
		`admin: {bind: "nowhere"}`:                      "admin.bind",
		`admin: {bind: ":9", metrics: m}`:               "admin.metrics",
		`admin: {bind: ":9", stats: s}`:                 "admin.stats: a path starting with /, or off",
		`admin: {bind: ":9", runtime: r}`:               "admin.runtime",
		`admin: {bind: ":9", stats: /metrics}`:          "admin.stats: /metrics is admin.metrics's path too",
		`admin: {bind: ":9", stats_refresh: -1s}`:       "admin.stats_refresh",
	} {
		_, err := parse(y + "\nfrontends:\n  - {name: a, bind: [\"127.0.0.1:1\"], use_service: lua.x}\n")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error with %q", y, err, want)
		}
	}
	c, err = parse("admin: {bind: \"127.0.0.1:9100\"}\nfrontends:\n  - {name: a, bind: [\"127.0.0.1:1\"], use_service: lua.x}\n")
	if err != nil || c.Admin.Metrics != "/metrics" || c.Admin.Stats != "/stats" || c.Admin.StatsRefresh.D() != DefaultStatsRefresh || c.Admin.Runtime != "" {
		t.Errorf("admin's default paths: %v %+v", err, c.Admin)
	}
	c, err = parse("admin: {bind: \"127.0.0.1:9100\", stats: off, runtime: /rt, stats_refresh: 2s}\nfrontends:\n  - {name: a, bind: [\"127.0.0.1:1\"], use_service: lua.x}\n")
	if err != nil || c.Admin.Stats != "" || c.Admin.Runtime != "/rt" || c.Admin.StatsRefresh.D() != 2*time.Second {
		t.Errorf("admin with stats off: %v %+v", err, c.Admin)
	}
}
