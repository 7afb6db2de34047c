package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each mistake an operator makes gets a message naming the key, its line
// and what was expected, in the file's words.
func TestHelpfulMessages(t *testing.T) {
	t.Setenv("LUAEDGE_TEST_UNSET", "")
	os.Unsetenv("LUAEDGE_TEST_UNSET")
	cases := []struct{ name, yaml, want string }{
		{"dash for underscore", "frontends:\n  - name: a\n    bind: [\"127.0.0.1:1\"]\n    use-service: lua.x\n",
			"frontends[0].use-service (line 4): unknown key; did you mean use_service?"},
		{"typo", "wrokers: 2\n" + minimal, "wrokers (line 1): unknown key; did you mean workers?"},
		{"nothing close", "frobnicate: 2\n" + minimal, "frobnicate (line 1): unknown key; known keys here: access_log, admin, backends, caches, dns, frontends, hooks, http_client,"},
		{"a string for a list", "frontends:\n  - name: a\n    bind: 127.0.0.1:80\n    use_service: lua.x\n",
			`frontends[0].bind (line 3): expected a list of addresses, got the string "127.0.0.1:80"`},
		{"a list for a string", "frontends:\n  - name: [a, b]\n    bind: [\"127.0.0.1:1\"]\n    use_service: lua.x\n",
			"frontends[0].name (line 2): expected a string, got a list"},
		{"a word for a number", "workers: two\n" + minimal, `workers (line 1): expected a whole number, got the string "two"`},
		{"a word for a boolean", "lua: {unsafe_ffi: maybe}\n" + minimal, `lua.unsafe_ffi (line 1): expected true or false, got the string "maybe"`},
		{"a mapping for a list", "frontends: {name: a}\n", "frontends (line 1): expected a list of frontends"},
		{"flow map: the right key", `frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, limits: {max_body: 1MiB, max_header_bytes: lots}}]`,
			`frontends[0].limits.max_header_bytes (line 1): invalid size "lots"`},
		{"flow map: the right line", "frontends:\n  - {name: a, bind: [\"127.0.0.1:1\"],\n     use_service: lua.x, timeouts: {keep_alive: 5s,\n       body: soon}}\n",
			`frontends[0].timeouts.body (line 4): invalid duration "soon"`},
		{"flow map: unknown key", `frontends: [{name: a, bind: ["127.0.0.1:1"], use_service: lua.x, limits: {max_body: 1, max_bdy: 2}}]`,
			"frontends[0].limits.max_bdy (line 1): unknown key; did you mean max_body?"},
		{"bind without a port", `frontends: [{name: web, bind: ["127.0.0.1"], use_service: lua.x}]`,
			`frontends[0].bind[0]: frontend "web": 127.0.0.1: want HOST:PORT`},
		{"bind with a bad port", `frontends: [{name: web, bind: ["127.0.0.1:http"], use_service: lua.x}]`,
			`frontends[0].bind[0]: frontend "web": 127.0.0.1:http: the port must be a number from 0 to 65535, got "http"`},
		{"localhost and 127.0.0.1", `frontends: [{name: a, bind: ["localhost:8080"], use_service: lua.x}, {name: b, bind: ["127.0.0.1:8080"], use_service: lua.x}]`,
			`frontends[1].bind[0]: frontend "b": 127.0.0.1:8080 is already bound by frontend "a" (as localhost:8080: the same address and port)`},
		{"every address and one", `frontends: [{name: a, bind: [":8080"], use_service: lua.x}, {name: b, bind: ["127.0.0.1:8080"], use_service: lua.x}]`,
			`frontends[1].bind[0]: frontend "b": 127.0.0.1:8080 is already bound by frontend "a" (as :8080`},
		{"unset variable", "frontends: [{name: a, bind: [\"127.0.0.1:${LUAEDGE_TEST_UNSET}\"], use_service: lua.x}]",
			"frontends[0].bind[0] (line 1): the environment variable LUAEDGE_TEST_UNSET is not set (${LUAEDGE_TEST_UNSET:-DEFAULT} gives a default)"},
		{"memory_limit too small", "lua: {memory_limit: 512KiB}\n" + minimal, "lua.memory_limit: 512KiB is too small"},
		{"cpath without ffi", "lua: {cpath: \"./?.so\"}\n" + minimal, "lua.cpath: C modules can only be loaded with lua.unsafe_ffi: true"},
		{"include of a missing file", "include: nothere.yaml\n" + minimal, "include (line 1): stat"},
		{"include of a list of mappings", "include: [{a: b}]\n" + minimal, "include (line 1): expected a list of files and folders, got a mapping"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\n got %v\nwant %q", tc.yaml, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "config.") {
				t.Errorf("a Go type name in the message: %v", err)
			}
		})
	}
}

// Every problem is reported, each once, in file order.
func TestEveryProblem(t *testing.T) {
	_, err := Parse([]byte("wrokers: 1\nlog: {levle: info}\nfrontends:\n  - name: a\n    bind: 80\n    use-service: lua.x\n"), "")
	got := Problems(err)
	want := []string{"wrokers (line 1)", "log.levle (line 2)", "frontends[0].bind (line 5)", "frontends[0].use-service (line 6)"}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d: %v", len(got), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i].Error(), w) {
			t.Errorf("problem %d: %v, want %s...", i, got[i], w)
		}
	}
}

func TestEnvironmentVariables(t *testing.T) {
	t.Setenv("LUAEDGE_TEST_PORT", "9090")
	t.Setenv("LUAEDGE_TEST_EMPTY", "")
	t.Setenv("LUAEDGE_TEST_WORKERS", "3")
	c, err := Parse([]byte(`workers: ${LUAEDGE_TEST_WORKERS}
shutdown_timeout: ${LUAEDGE_TEST_NOPE:-2s}
frontends:
  - name: ${LUAEDGE_TEST_EMPTY:-web}
    bind: ["127.0.0.1:${LUAEDGE_TEST_PORT}", "127.0.0.1:${LUAEDGE_TEST_NOPE:-8081}"]
    use_service: 'lua.$${literal}'
`), "")
	if err != nil {
		t.Fatal(err)
	}
	f := c.Frontends[0]
	if c.Workers != 3 || c.ShutdownTimeout.D().String() != "2s" || f.Name != "web" || f.Bind[0] != "127.0.0.1:9090" || f.Bind[1] != "127.0.0.1:8081" || f.UseService != "lua.${literal}" {
		t.Errorf("workers %d, shutdown_timeout %v, frontend %+v", c.Workers, c.ShutdownTimeout.D(), f)
	}
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("conf.d/10-web.yaml", "frontends:\n  - {name: web, bind: [\"127.0.0.1:1\"], default_backend: app}\n")
	write("conf.d/20-api.yml", "frontends:\n  - {name: api, bind: [\"127.0.0.1:2\"], use_service: lua.api}\nlua: {load: [api.lua]}\n")
	write("conf.d/README.txt", "not yaml")
	write("backends.yaml", "backends:\n  - name: app\n    servers: [{name: s1, address: \"127.0.0.1:3\"}]\n")
	write("luaedge.yaml", "include: [backends.yaml, conf.d]\nlua: {load: [main.lua], memory_limit: 64MiB}\nfrontends:\n  - {name: main, bind: [\"127.0.0.1:4\"], use_service: lua.main}\n")
	c, err := Load(filepath.Join(dir, "luaedge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range c.Frontends {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "main,web,api" || len(c.Backends) != 1 || strings.Join(c.Lua.Load, ",") != "main.lua,api.lua" || c.Lua.MemoryLimit != 64<<20 {
		t.Errorf("frontends %v, backends %d, lua %+v", names, len(c.Backends), c.Lua)
	}

	// A mistake in an included file names the file and its own line.
	write("conf.d/30-bad.yaml", "\nfrontends:\n  - {name: bad, bind: [\"127.0.0.1:5\"], use-service: lua.x}\n")
	_, err = Load(filepath.Join(dir, "luaedge.yaml"))
	if want := "include conf.d/30-bad.yaml: frontends[0].use-service (line 3): unknown key; did you mean use_service?"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %q", err, want)
	}
	os.Remove(filepath.Join(dir, "conf.d/30-bad.yaml"))

	// A single value set twice.
	write("conf.d/40-twice.yaml", "lua: {memory_limit: 32MiB}\n")
	_, err = Load(filepath.Join(dir, "luaedge.yaml"))
	if want := "include conf.d/40-twice.yaml: lua.memory_limit (line 1): already set"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %q", err, want)
	}
	os.Remove(filepath.Join(dir, "conf.d/40-twice.yaml"))

	// A cycle.
	write("conf.d/50-loop.yaml", "include: ../luaedge.yaml\n")
	_, err = Load(filepath.Join(dir, "luaedge.yaml"))
	if want := "an include cycle"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %q", err, want)
	}
}

// lua.path's relative templates are the configuration folder's; ";;"
// stays for LuaJIT's own directories.
func TestLuaPath(t *testing.T) {
	c, err := Parse([]byte(minimal), "/etc/luaedge")
	if err != nil {
		t.Fatal(err)
	}
	if c.Lua.Path != "/etc/luaedge/?.lua;/etc/luaedge/?/init.lua;;" {
		t.Errorf("default lua.path %q", c.Lua.Path)
	}
	c, err = Parse([]byte("lua: {path: \"lib/?.lua;/usr/share/lua/?.lua\", cpath: \"./?.so\", unsafe_ffi: true}\n"+minimal), "/etc/luaedge")
	if err != nil {
		t.Fatal(err)
	}
	if c.Lua.Path != "/etc/luaedge/lib/?.lua;/usr/share/lua/?.lua" || c.Lua.CPath != "/etc/luaedge/?.so" {
		t.Errorf("lua.path %q, lua.cpath %q", c.Lua.Path, c.Lua.CPath)
	}
}
