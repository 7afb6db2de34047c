package stream_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/luaedge/luaedge/proto/httpenc"
	"github.com/luaedge/luaedge/stream"
)

// compressingFrontend compresses text/plain with gzip or brotli.
func compressingFrontend(def int) *stream.Frontend {
	return &stream.Frontend{Name: "fe", Default: def, Compress: &httpenc.Policy{
		Codings: []httpenc.Coding{httpenc.Gzip, httpenc.Brotli},
		Types:   []string{"text/plain"},
		Level:   1,
		Quality: 4,
	}}
}

func unbrotli(t *testing.T, b []byte) string {
	t.Helper()
	out, err := io.ReadAll(brotli.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("brotli: %v", err)
	}
	return string(out)
}

// A brotli response holds its coding (and the loop's brotli writer) from
// its head to its end, and none once it ended, whole or cut by a script's
// error.
func TestCompressionBrotli(t *testing.T) {
	e := start(t)
	p := &proto{waitBody: true}
	st := e.run(t, p, compressingFrontend(-1), e.progs["page"], request{method: "POST", body: true, acceptEncoding: "gzip, deflate, br"})
	e.do(t, func() {
		if p.String() != "head,data,waitbody" || !st.Compressing() {
			t.Errorf("mid-body: calls %s, compressing %v", p, st.Compressing())
		}
		st.BodyEnd(nil)
		st.Step()
	})
	e.waitFor(t, "the page", p.over)
	want := strings.Repeat("page text ", 100) + strings.Repeat("more text ", 100)
	if got := unbrotli(t, p.data); got != want || p.calls[len(p.calls)-1] != "end" {
		t.Fatalf("calls %s, %d bytes decode to %q", p, len(p.data), got)
	}
	if h := strings.Join(p.heads[0].fields, "|"); !strings.Contains(h, "content-encoding: br") || !strings.Contains(h, "vary: accept-encoding") || p.heads[0].length != -1 {
		t.Errorf("head %+v", p.heads[0])
	}
	e.do(t, func() {
		if st.Compressing() {
			t.Error("a response that ended still holds its coding")
		}
	})

	p = &proto{}
	st = e.run(t, p, compressingFrontend(-1), e.progs["pagefails"], request{acceptEncoding: "br"})
	e.waitFor(t, "the failing page", p.over)
	e.do(t, func() {
		if p.calls[len(p.calls)-1] != "fail 500" || st.Compressing() {
			t.Errorf("cut by an error: calls %s, compressing %v", p, st.Compressing())
		}
	})
}

// A server's compressed body that breaks off gives the coding back; the
// client gets no end of it (the protocol cuts the response).
func TestCompressionUpstreamFails(t *testing.T) {
	e := start(t)
	b := &backends{u: &upstream{}}
	e.useBackends(t, b)
	p := &proto{}
	st := e.run(t, p, compressingFrontend(0), e.forward, request{acceptEncoding: "br"})
	e.do(t, func() {
		upstreamHead(st, 200, "content-type", "text/plain", "content-length", "10000")
		st.UpstreamData(bytes.Repeat([]byte("server text "), 100))
		if !st.Compressing() {
			t.Error("the server's body is not being compressed")
		}
		st.UpstreamFailed(502)
		if st.Compressing() || p.String() != "forwarded,head,data,forwarded nil,fail 502" {
			t.Errorf("after the failure: calls %s, compressing %v", p, st.Compressing())
		}
	})
	// What left decodes (each piece is flushed) but is not a whole stream.
	if _, err := io.ReadAll(brotli.NewReader(bytes.NewReader(p.data))); err == nil {
		t.Error("the cut body reads as a complete brotli stream")
	}
}
