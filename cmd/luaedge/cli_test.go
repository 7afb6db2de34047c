package main

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runBin runs the binary with args and returns its stdout, stderr and
// exit status.
func runBin(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	needBinary(t)
	cmd := exec.Command(luaedgeBin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("running luaedge %v: %v", args, err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out, errOut, code := runBin(t, "", args...)
		if code != 0 || errOut != "" {
			t.Errorf("luaedge %v: status %d, stderr %q", args, code, errOut)
		}
		for _, want := range []string{"luaedge run", "luaedge check", "luaedge hooks", "luaedge admin", "luaedge version", "luaedge completion", "luaedge man", "luaedge help",
			"-c FILE", "--version", "-s SOCKET", "Exit status", "  2  "} {
			if !strings.Contains(out, want) {
				t.Errorf("luaedge %v does not list %q:\n%s", args, want, out)
			}
		}
	}
	out, _, code := runBin(t, "", "check", "--help")
	if code != 0 || !strings.HasPrefix(out, "usage: luaedge check [-c FILE]") {
		t.Errorf("luaedge check --help: status %d:\n%s", code, out)
	}
	out, _, code = runBin(t, "", "admin", "-h")
	if code != 0 || !strings.Contains(out, "-s SOCKET") {
		t.Errorf("luaedge admin -h: status %d:\n%s", code, out)
	}
}

func TestCLIVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		out, errOut, code := runBin(t, "", args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "luaedge ") {
			t.Errorf("luaedge %v: status %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// Usage errors exit 2 with the reason on stderr and nothing on stdout.
func TestCLIUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--nope"}, {"frobnicate"}, {"check", "extra"}, {"admin"}, {"completion", "zsh"}, {"help", "nope"}, {"version", "x"}} {
		out, errOut, code := runBin(t, "", args...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("luaedge %v: status %d (want 2), stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	// A failed admin command (no socket there) is an error, status 1.
	_, errOut, code := runBin(t, "", "admin", "-s", filepath.Join(t.TempDir(), "none.sock"), "help")
	if code != 1 || !strings.Contains(errOut, "luaedge admin:") {
		t.Errorf("admin on a missing socket: status %d, stderr %q", code, errOut)
	}
}

func TestCLICheckReports(t *testing.T) {
	t.Run("embedded demo", func(t *testing.T) {
		// Whatever holds 8080 here, say what was checked.
		out, errOut, code := runBin(t, "", "check")
		if code == 0 {
			for _, want := range []string{"the embedded demo configuration", "demo.lua", "127.0.0.1:8080"} {
				if !strings.Contains(out, want) {
					t.Errorf("luaedge check does not say it checked %q:\n%s", want, out)
				}
			}
		} else if !strings.Contains(errOut, "the embedded demo configuration") {
			t.Errorf("status %d; stderr does not say what was checked:\n%s", code, errOut)
		}
	})

	t.Run("every problem", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "luaedge.yaml"), `log: {level: loud}
workers: -1
frontends:
  - name: a
    bind: ["127.0.0.1:0"]
    use_service: nothing
  - name: a
    bind: ["127.0.0.1"]
    use_service: lua.x
`)
		out, errOut, code := runBin(t, dir, "check", "-c", "luaedge.yaml")
		if code != 1 || out != "" {
			t.Fatalf("status %d, stdout %q", code, out)
		}
		for _, want := range []string{"luaedge: luaedge.yaml: log.level", "luaedge: luaedge.yaml: workers", "frontends[0].use_service", "frontends[1].name", "frontends[1].bind[0]", "5 problems"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr does not report %q:\n%s", want, errOut)
			}
		}
	})

	t.Run("every script problem", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "s.lua"), `core.register_service("svc", "http", function() end)
core.register_init(function() error("init failed here") end)
`)
		writeFile(t, filepath.Join(dir, "luaedge.yaml"), `lua: {load: [s.lua]}
frontends:
  - {name: a, bind: ["127.0.0.1:0"], use_service: lua.nope}
  - {name: b, bind: ["[::1]:0"], use_service: lua.nope2}
`)
		_, errOut, code := runBin(t, dir, "check", "-c", "luaedge.yaml")
		for _, want := range []string{"frontends[0].use_service", "frontends[1].use_service", "init failed here", "3 problems"} {
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("status %d; stderr does not report %q:\n%s", code, want, errOut)
			}
		}
	})

	t.Run("init functions see the proxies", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "s.lua"), `core.register_service("svc", "http", function() end)
core.register_init(function()
	local s = core.backends["app"].servers["s1"]
	assert(s:get_stats().status ~= nil, "no stats")
	assert(core.frontends["web"] ~= nil, "no frontend")
end)
`)
		writeFile(t, filepath.Join(dir, "luaedge.yaml"), `lua: {load: [s.lua]}
frontends:
  - {name: web, bind: ["127.0.0.1:0"], use_service: lua.svc}
backends:
  - {name: app, servers: [{name: s1, address: "127.0.0.1:9"}]}
`)
		out, errOut, code := runBin(t, dir, "check", "-c", "luaedge.yaml")
		if code != 0 {
			t.Errorf("status %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("binds", func(t *testing.T) {
		// A port another program holds (without SO_REUSEPORT), and an
		// address this machine does not have (TEST-NET-1).
		held, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "s.lua"), `core.register_service("svc", "http", function() end)`)
		writeFile(t, filepath.Join(dir, "luaedge.yaml"), fmt.Sprintf(`lua: {load: [s.lua]}
frontends:
  - {name: web, bind: ["%s"], use_service: lua.svc}
  - {name: far, bind: ["192.0.2.1:8080"], use_service: lua.svc}
`, held.Addr()))
		_, errOut, code := runBin(t, dir, "check", "-c", "luaedge.yaml")
		for _, want := range []string{
			fmt.Sprintf(`frontends[0].bind[0]: frontend "web" cannot listen on %s: the port is in use by another program`, held.Addr()),
			`frontends[1].bind[0]: frontend "far" cannot listen on 192.0.2.1:8080: the address is not one of this machine's`,
		} {
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("status %d; stderr does not report %q:\n%s", code, want, errOut)
			}
		}
	})

	t.Run("binds of the running server", func(t *testing.T) {
		s := startServer(t, `frontends:
  - {name: web, bind: ["127.0.0.1:@PORT@"], use_service: lua.svc}
lua: {load: [s.lua]}
`, map[string]string{"s.lua": `core.register_service("svc", "http", function() end)`})
		out, errOut, code := runBin(t, s.dir, "check", "-c", "luaedge.yaml")
		if code != 0 || !strings.Contains(out, "can be bound") {
			t.Errorf("check beside the running server: status %d\n%s%s", code, out, errOut)
		}
	})
}

func TestCLICompletion(t *testing.T) {
	script, _, code := runBin(t, "", "completion", "bash")
	if code != 0 {
		t.Fatalf("completion bash: status %d", code)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	complete := func(words ...string) string {
		prog := script + "\nCOMP_WORDS=(" + strings.Join(words, " ") + ")\nCOMP_CWORD=" + fmt.Sprint(len(words)-1) + "\n_luaedge\necho \"${COMPREPLY[*]}\"\n"
		out, err := exec.Command(bash, "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := complete("luaedge", "ch"); got != "check" {
		t.Errorf("luaedge ch<TAB>: %q", got)
	}
	if got := complete("luaedge", "admin", "-"); !strings.Contains(got, "-s") {
		t.Errorf("luaedge admin -<TAB>: %q", got)
	}
	if got := complete("luaedge", "completion", ""); got != "bash" {
		t.Errorf("luaedge completion <TAB>: %q", got)
	}
	if got := complete("luaedge", "--"); !strings.Contains(got, "--version") || !strings.Contains(got, "--help") {
		t.Errorf("luaedge --<TAB>: %q", got)
	}
}

func TestCLIMan(t *testing.T) {
	page, _, code := runBin(t, "", "man")
	if code != 0 || !strings.HasPrefix(page, ".TH LUAEDGE 1") {
		t.Fatalf("man: status %d:\n%.200s", code, page)
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("no groff to render the page")
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww")
	cmd.Stdin = strings.NewReader(page)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Fatalf("groff: %v\n%s", err, errb.String())
	}
	text := out.String()
	// groff may hyphenate or bold: compare without its overstrikes.
	plain := regexpOverstrike.ReplaceAllString(text, "")
	for _, want := range []string{"COMMANDS", "check", "completion", "EXIT STATUS", "-c FILE", "--version", "-s SOCKET", "SIGHUP"} {
		if !strings.Contains(plain, want) {
			t.Errorf("the rendered page has no %q:\n%s", want, plain)
		}
	}
}

// regexpOverstrike matches groff's bold and underline (X\bX, _\bX).
var regexpOverstrike = regexp.MustCompile(".\b")
