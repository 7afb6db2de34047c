package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// h2spec (installed by `make test`, third_party/install-deps.sh) checks
// the HTTP/2 server against RFC 9113 and RFC 7541, 145 cases. The service
// reads the whole request before it answers, as most do: several cases
// send a frame that breaks the rules after the request head, and a
// service that has already answered and closed the stream sees it as a
// frame on a closed stream instead.

const h2specConfig = `workers: 2
lua:
  load: [echo.lua]
frontends:
  - name: h2c
    bind: ["127.0.0.1:@PORT@"]
    http2: {cleartext: prior_knowledge}
    use_service: lua.echo
  - name: mixed
    bind: ["127.0.0.1:@PORT2@"]
    use_service: lua.echo
  - name: tls
    bind: ["127.0.0.1:@PORT3@"]
    use_service: lua.echo
    tls: {cert: c.pem, key: c.key}
`

func TestH2Spec(t *testing.T) {
	needBinary(t)
	bin, err := exec.LookPath("h2spec")
	if err != nil {
		t.Skip("h2spec is not installed (make test installs it)")
	}
	cert := newTestCert(t, time.Now().Add(24*time.Hour), "localhost")
	s := startServer(t, h2specConfig, map[string]string{"echo.lua": h2cLua, "c.pem": cert.certPEM, "c.key": cert.keyPEM})

	t.Run("prior knowledge", func(t *testing.T) {
		total, failed := runH2Spec(t, bin, s.addrOf(""), false)
		if total != 145 || len(failed) > 0 {
			t.Errorf("%d cases, failed: %q", total, failed)
		}
	})
	t.Run("TLS", func(t *testing.T) {
		total, failed := runH2Spec(t, bin, s.addrOf("3"), true)
		if total != 145 || len(failed) > 0 {
			t.Errorf("%d cases, failed: %q", total, failed)
		}
	})
	// On a port that serves HTTP/1 too, bytes that are not the preface are
	// an HTTP/1 request, answered with an HTTP/1 error: h2spec wants the connection closed
	// without an answer. Every other case passes.
	t.Run("HTTP/1 and h2c on one port", func(t *testing.T) {
		total, failed := runH2Spec(t, bin, s.addrOf("2"), false)
		want := []string{"http2/3.5: Sends invalid connection preface"}
		if total != 145 || !slices.Equal(failed, want) {
			t.Errorf("%d cases, failed: %q; want only %q", total, failed, want)
		}
	})
}

// runH2Spec runs every case against addr (over TLS, ALPN h2, when
// tls) and returns how many ran and which failed, as "section: case".
func runH2Spec(t *testing.T, bin, addr string, tls bool) (total int, failed []string) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	report := filepath.Join(t.TempDir(), "h2spec.xml")
	args := []string{"-h", host, "-p", port, "-o", "5", "-j", report}
	if tls {
		args = append(args, "-t", "-k") // the certificate is the test's own
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("h2spec: %v", err)
	}
	data, rerr := os.ReadFile(report)
	if rerr != nil {
		t.Fatalf("h2spec wrote no report (%v): %s", rerr, out)
	}
	// The report quotes the frames it saw, control bytes included, which
	// XML does not allow.
	data = bytes.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return ' '
		}
		return r
	}, data)
	var r struct {
		Suites []struct {
			Cases []struct {
				Package string `xml:"package,attr"`
				Name    string `xml:"classname,attr"`
				Error   *struct {
					Text string `xml:",chardata"`
				} `xml:"error"`
				Failure *struct {
					Text string `xml:",chardata"`
				} `xml:"failure"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &r); err != nil {
		t.Fatalf("h2spec report: %v", err)
	}
	for _, s := range r.Suites {
		for _, c := range s.Cases {
			total++
			if c.Error != nil || c.Failure != nil || c.Skipped != nil {
				failed = append(failed, c.Package+": "+c.Name)
				t.Logf("%s: %s", c.Package, c.Name)
			}
		}
	}
	return total, failed
}
