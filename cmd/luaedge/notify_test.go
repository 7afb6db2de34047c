package main

import (
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listenNotify is systemd's side of sd_notify: a unixgram socket whose
// datagrams come out of the returned channel.
func listenNotify(t *testing.T, name string) <-chan string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return msgs
}

func nextNotify(t *testing.T, msgs <-chan string, want string) string {
	t.Helper()
	select {
	case m := <-msgs:
		if !strings.Contains(m, want) {
			t.Fatalf("notification %q, want %s", m, want)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no notification %s within 10 s", want)
	}
	return ""
}

func TestNotifier(t *testing.T) {
	for _, name := range []string{filepath.Join(t.TempDir(), "notify.sock"), "@luaedge-test-" + strconv.Itoa(time.Now().Nanosecond())} {
		msgs := listenNotify(t, name)
		n := &notifier{addr: name}
		if err := n.ready(1); err != nil {
			t.Fatal(err)
		}
		nextNotify(t, msgs, "READY=1\nSTATUS=serving (generation 1)\nMAINPID=")
		if err := n.reloading(); err != nil {
			t.Fatal(err)
		}
		m := nextNotify(t, msgs, "RELOADING=1\n")
		usec, err := strconv.ParseInt(m[strings.Index(m, "MONOTONIC_USEC=")+len("MONOTONIC_USEC="):], 10, 64)
		if err != nil || usec <= 0 {
			t.Errorf("MONOTONIC_USEC in %q: %v", m, err)
		}
		if err := n.stopping(); err != nil {
			t.Fatal(err)
		}
		nextNotify(t, msgs, "STOPPING=1")
	}
	if err := (&notifier{}).ready(1); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
}

// Under systemd (Type=notify): READY=1 once listening, RELOADING=1 and
// READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	msgs := listenNotify(t, sock)
	port := freePort(t)
	writeFile(t, filepath.Join(dir, "s.lua"), `core.register_service("svc", "http", function(applet) applet:set_status(200) applet:start_response() end)`)
	writeFile(t, filepath.Join(dir, "luaedge.yaml"), "lua: {load: [s.lua]}\nfrontends:\n  - {name: web, bind: [\"127.0.0.1:"+strconv.Itoa(port)+"\"], use_service: lua.svc}\n")
	cmd := exec.Command(luaedgeBin, "-c", "luaedge.yaml")
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "NOTIFY_SOCKET="+sock)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("output:\n%s", out.String())
		}
	}()
	m := nextNotify(t, msgs, "READY=1")
	if !strings.Contains(m, "MAINPID="+strconv.Itoa(cmd.Process.Pid)) || !strings.Contains(m, "generation 1") {
		t.Errorf("READY notification %q", m)
	}
	// READY=1 comes once the port accepts.
	if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
		t.Errorf("READY=1 before the port accepts: %v", err)
	} else {
		c.Close()
	}
	cmd.Process.Signal(syscall.SIGHUP)
	nextNotify(t, msgs, "RELOADING=1")
	nextNotify(t, msgs, "READY=1\nSTATUS=serving (generation 2)")
	cmd.Process.Signal(syscall.SIGTERM)
	nextNotify(t, msgs, "STOPPING=1")
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("exit status %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("still running 10 s after SIGTERM")
	}
}
