package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// typedLine is a line of show stat typed: object, proxy id, id, position,
// field name, process, tags, type, value.
var typedLine = regexp.MustCompile(`^([FBS])\.(\d+)\.(\d+)\.(\d+)\.([a-z0-9_]+)\.1:([A-Z][A-Za-z][A-Za-z]):(str|u32|u64|s32|s64):(.*)$`)

// typedKinds maps "<obj>.<field>" to "<pos>:<tags>:<type>" over a show
// stat typed answer, and "<obj>.<proxy>.<id>.<field>" to the value.
func typedKinds(t *testing.T, who, out string) (kinds, values map[string]string) {
	t.Helper()
	kinds, values = map[string]string{}, map[string]string{}
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		m := typedLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("%s: show stat typed line %q", who, l)
		}
		kinds[m[1]+"."+m[5]] = m[4] + ":" + m[6] + ":" + m[7]
		values[m[1]+"."+m[2]+"."+m[3]+"."+m[5]] = m[8]
	}
	return kinds, values
}

// show stat typed and json, show info typed and json: the values are
// the CSV's (the plain form's), and each field has the position, tags
// and type HAProxy 2.6 gives it (asked of a running haproxy when one is
// installed).
func TestRuntimeShowTypedJSON(t *testing.T) {
	s, _, _ := runtimeServer(t)
	for i := 0; i < 3; i++ {
		mustGet(t, s.addr(), "/x")
	}
	hits(t, s, 4)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.rt(t, "show info"), "\nCurrConns: 0\n") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := s.rt(t, "show stat typed")
	if !strings.HasSuffix(out, "\n\n") || !strings.HasPrefix(out, "F.1.0.0.pxname.1:KNS:str:web\nF.1.0.1.svname.1:KNS:str:FRONTEND\n") {
		t.Fatalf("show stat typed:\n%s", out)
	}
	kinds, values := typedKinds(t, "luaedge", out)
	rows := statRows(t, s.rt(t, "show stat"))
	n := 0
	for key, row := range rows {
		pxname, svname, _ := strings.Cut(key, "/")
		obj := map[string]string{"FRONTEND": "F", "BACKEND": "B"}[svname]
		if obj == "" {
			obj = "S"
		}
		for f, v := range row {
			if v == "" {
				continue
			}
			n++
			k := obj + "." + row["iid"] + "." + map[bool]string{true: row["sid"], false: "0"}[obj == "S"] + "." + f
			if values[k] != v {
				t.Errorf("%s %s: typed %q, CSV %q", pxname, f, values[k], v)
			}
		}
	}
	if n != len(values) {
		t.Errorf("%d typed values, %d in the CSV", len(values), n)
	}
	if got := s.rt(t, "show stat app 4 2 typed"); !strings.HasPrefix(got, "S.3.2.0.pxname.1:KNS:str:app\nS.3.2.1.svname.1:KNS:str:b\n") || strings.Contains(got, "S.3.1.") || strings.Contains(got, "\nF.") {
		t.Errorf("show stat app 4 2 typed:\n%s", got)
	}

	var stat [][]map[string]any
	if err := json.Unmarshal([]byte(s.rt(t, "show stat json")), &stat); err != nil {
		t.Fatalf("show stat json: %v", err)
	}
	if len(stat) != len(rows) {
		t.Errorf("show stat json: %d objects, the CSV %d lines", len(stat), len(rows))
	}
	var info []map[string]any
	if err := json.Unmarshal([]byte(s.rt(t, "show info json")), &info); err != nil || len(info) == 0 {
		t.Fatalf("show info json: %v", err)
	}
	if f := info[0]; fmt.Sprint(f["field"]) != "map[name:Name pos:0]" || fmt.Sprint(f["value"]) != "map[type:str value:luaedge]" {
		t.Errorf("show info json's first field: %v", f)
	}
	infoTyped := s.rt(t, "show info typed")
	if !strings.Contains(infoTyped, "\n19.CumReq.1:MCP:u32:7\n") || !strings.Contains(infoTyped, "\n3.Nbthread.1:CGS:u32:2\n") {
		t.Errorf("show info typed:\n%s", infoTyped)
	}
	s.expectRT(t, "show info yaml", "'show info' takes no argument, 'typed' or 'json'.\n")

	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed: the kinds are not compared")
	}
	haKinds, haInfo := haproxyTyped(t, bin)
	for k, v := range kinds {
		if hv, ok := haKinds[k]; ok && hv != v {
			t.Errorf("show stat typed %s: luaedge %s, haproxy %s", k, v, hv)
		} else if !ok && !strings.HasSuffix(k, ".check_status") {
			t.Errorf("show stat typed %s: haproxy has no such field on this object", k)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(infoTyped), "\n") {
		head, rest, _ := strings.Cut(l, ":")
		pos, name, _ := strings.Cut(strings.TrimSuffix(head, ".1"), ".")
		kind := rest[:7]
		if ha, ok := haInfo[name]; ok && ha != pos+":"+kind {
			t.Errorf("show info typed %s: luaedge %s:%s, haproxy %s", name, pos, kind, ha)
		} else if n, _ := strconv.Atoi(pos); !ok && n < 100 { // luaedge's own fields are numbered from 100
			t.Errorf("show info typed %s at %s: haproxy has no such field", name, pos)
		}
	}
}

// haproxyTyped runs haproxy with a configuration like runtimeConfig's
// and a stats socket, and returns the kinds of its show stat typed and
// its show info typed fields ("<pos>:<tags>:<type>" by name).
func haproxyTyped(t *testing.T, bin string) (stat, info map[string]string) {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "ha.sock")
	cfg := fmt.Sprintf(`global
  stats socket %s level admin
defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend web
  bind 127.0.0.1:%d
frontend px
  bind 127.0.0.1:%d
  default_backend app
backend app
  server a 127.0.0.1:%d weight 1 check
  server b 127.0.0.1:%d weight 3 maxconn 5
`, sock, freePort(t), freePort(t), freePort(t), freePort(t))
	writeFile(t, filepath.Join(dir, "haproxy.cfg"), cfg)
	cmd := exec.Command(bin, "-db", "-f", filepath.Join(dir, "haproxy.cfg"))
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ask := func(line string) string {
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := net.Dial("unix", sock)
			if err == nil {
				defer c.Close()
				fmt.Fprintf(c, "%s\n", line)
				var b strings.Builder
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					b.Write(buf[:n])
					if err != nil {
						return b.String()
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy's stats socket: %v\n%s", err, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stat, _ = typedKinds(t, "haproxy", ask("show stat typed"))
	info = map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(ask("show info typed")), "\n") {
		head, rest, _ := strings.Cut(l, ":")
		pos, name, _ := strings.Cut(strings.TrimSuffix(head, ".1"), ".")
		info[name] = pos + ":" + rest[:7]
	}
	return stat, info
}
