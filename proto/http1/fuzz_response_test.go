package http1

import "testing"

// fuzzMethods are the request methods whose responses have distinct rules.
var fuzzMethods = [][]byte{[]byte("GET"), []byte("HEAD"), []byte("CONNECT")}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		typicalResponse,
		"HTTP/1.0 200 OK\r\n\r\n",
		"HTTP/1.1 204\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 204\nX: y\n\n",
	} {
		f.Add([]byte(s))
	}
	for _, tt := range respRejectTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, lim := range fuzzLimits {
			for _, method := range fuzzMethods {
				var r Response
				n, err := r.Parse(in, method, lim)
				want := respSummary(&r, n, err)
				switch {
				case err == nil:
					_, maxHead, maxFields := lim.values()
					if n <= 0 || n > len(in) || n != r.HeadLen || n > maxHead || len(r.Headers) > maxFields {
						t.Fatalf("n=%d len=%d HeadLen=%d headers=%d", n, len(in), r.HeadLen, len(r.Headers))
					}
					if !endsHead(in[:n]) {
						t.Fatalf("head does not end in an empty line: %q", in[:n])
					}
					checkResponseInvariants(t, &r, method)
					// With every bare LF made a CRLF, the head means the same.
					crlf := crlfLines(in[:n])
					var cr Response
					if cn, cerr := cr.Parse(crlf, method, Limits{MaxRequestLine: 1 << 20, MaxHeaderBytes: 1 << 20, MaxHeaders: maxFields}); cerr != nil || cn != len(crlf) {
						t.Fatalf("with CRLFs %q: %d, %v", crlf, cn, cerr)
					}
					cr.HeadLen = r.HeadLen
					if got := respSummary(&cr, n, nil); got != want {
						t.Fatalf("with CRLFs:\n got %s\nwant %s", got, want)
					}
					// The head alone parses the same.
					var again Response
					n2, err2 := again.Parse(in[:n], method, lim)
					if got := respSummary(&again, n2, err2); got != want {
						t.Fatalf("head alone:\n got %s\nwant %s", got, want)
					}
				case err == ErrIncomplete:
					if n != 0 {
						t.Fatalf("n=%d with ErrIncomplete", n)
					}
				default:
					e, ok := err.(*Error)
					if !ok || n != 0 || e.Status != 502 {
						t.Fatalf("n=%d err=%#v", n, err)
					}
				}
				// Bytes arriving one at a time never disagree with the whole.
				decided := false
				for i := 0; i <= len(in); i++ {
					var p Response
					pn, perr := p.Parse(in[:i], method, lim)
					if perr == ErrIncomplete {
						if decided {
							t.Fatalf("prefix %d incomplete after a decision", i)
						}
						continue
					}
					decided = true
					if got := respSummary(&p, pn, perr); got != want {
						t.Fatalf("prefix %d of %q (%s):\n got %s\nwant %s", i, in, method, got, want)
					}
				}
			}
		}
	})
}

// checkResponseInvariants asserts what a successful Response.Parse promises.
func checkResponseInvariants(t *testing.T, r *Response, method []byte) {
	t.Helper()
	for _, h := range r.Headers {
		if !ValidHeaderName(h.Name) || !ValidHeaderValue(h.Value) {
			t.Fatalf("field %q: %q", h.Name, h.Value)
		}
		if len(h.Value) > 0 && (h.Value[0] == ' ' || h.Value[0] == '\t' ||
			h.Value[len(h.Value)-1] == ' ' || h.Value[len(h.Value)-1] == '\t') {
			t.Fatalf("untrimmed value %q", h.Value)
		}
	}
	if r.Major != 1 || r.Minor > 1 {
		t.Fatalf("version %d.%d", r.Major, r.Minor)
	}
	if r.Status < 100 || r.Status > 999 {
		t.Fatalf("status %d", r.Status)
	}
	if r.Reason == nil || !ValidHeaderValue(r.Reason) {
		t.Fatalf("reason %q", r.Reason)
	}
	if r.ContentLength < -1 {
		t.Fatalf("ContentLength %d", r.ContentLength)
	}
	if r.Chunked && (r.ContentLength != -1 || r.Minor == 0) {
		t.Fatalf("chunked with ContentLength %d in 1.%d", r.ContentLength, r.Minor)
	}
	noBody := r.Status < 200 || r.Status == 204 || r.Status == 304 ||
		string(method) == "HEAD" || string(method) == "CONNECT" && r.Status < 300
	mode := r.BodyMode()
	if noBody && (mode != BodyNone || r.ContentLength != 0 || r.Chunked) {
		t.Fatalf("status %d to %s: mode %s cl=%d", r.Status, method, mode.name(), r.ContentLength)
	}
	if mode == BodyClose && r.KeepAlive {
		t.Fatal("keep-alive with a body delimited by close")
	}
}
