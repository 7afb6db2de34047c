package http1

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStatusText(t *testing.T) {
	for code, want := range map[int]string{
		100: "Continue", 200: "OK", 204: "No Content", 301: "Moved Permanently",
		308: "Permanent Redirect", 404: "Not Found", 413: "Content Too Large",
		418: "I'm a teapot", 421: "Misdirected Request", 422: "Unprocessable Content",
		425: "Too Early", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
		451: "Unavailable For Legal Reasons", 503: "Service Unavailable",
		505: "HTTP Version Not Supported",
		-1:  "", 0: "", 99: "", 306: "", 299: "", 600: "", 1000: "",
	} {
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, got, want)
		}
	}
}

// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
func TestAppendStatusLine(t *testing.T) {
	tests := []struct {
		minor, code int
		reason      string
		want        string
	}{
		{1, 200, "", "HTTP/1.1 200 OK\r\n"},
		{0, 404, "", "HTTP/1.0 404 Not Found\r\n"},
		{1, 200, "Fine", "HTTP/1.1 200 Fine\r\n"},
		{1, 299, "", "HTTP/1.1 299 Success\r\n"},
		{1, 499, "", "HTTP/1.1 499 Client Error\r\n"},
		{1, 799, "", "HTTP/1.1 799 Other\r\n"},
		{1, 201, "a\r\nSet-Cookie: x", "HTTP/1.1 201 Created\r\n"},
		{1, 42, "", "HTTP/1.1 500 Internal Server Error\r\n"},
		{1, 1000, "Too big", "HTTP/1.1 500 Internal Server Error\r\n"},
	}
	for _, tt := range tests {
		got := AppendStatusLine([]byte("x"), tt.minor, tt.code, tt.reason)
		if string(got) != "x"+tt.want {
			t.Errorf("AppendStatusLine(%d, %d, %q) = %q, want %q", tt.minor, tt.code, tt.reason, got, tt.want)
		}
	}
}

func TestAppendHeader(t *testing.T) {
	got := AppendHeader(nil, []byte("Content-Type"), []byte("text/html"))
	if string(got) != "Content-Type: text/html\r\n" {
		t.Errorf("got %q", got)
	}
}

func TestAppendDate(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC), // RFC 9110 §5.6.7's example
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("X", -7*3600)),
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Now(),
	} {
		want := "Date: " + tm.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT") + "\r\n"
		if got := AppendDate(nil, tm); string(got) != want {
			t.Errorf("AppendDate(%v) = %q, want %q", tm, got, want)
		}
		// Cached for the same second.
		if got := AppendDate([]byte("a"), tm); string(got) != "a"+want {
			t.Errorf("cached AppendDate(%v) = %q", tm, got)
		}
	}
	if got := string(AppendDate(nil, time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC))); got != "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" {
		t.Errorf("got %q", got)
	}
}

func TestAppendDateConcurrent(t *testing.T) {
	base := time.Date(2030, 5, 17, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			buf := make([]byte, 0, 64)
			for i := 0; i < 2000; i++ {
				tm := base.Add(time.Duration(i%7) * time.Second)
				want := "Date: " + tm.Format("Mon, 02 Jan 2006 15:04:05 GMT") + "\r\n"
				if got := AppendDate(buf[:0], tm); string(got) != want {
					t.Errorf("got %q, want %q", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestErrorResponseConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			for code := 100; code < 1000; code++ {
				if r := ErrorResponse(code); !strings.HasPrefix(string(r), "HTTP/1.1 "+strconv.Itoa(code)+" ") {
					t.Errorf("%d: %q", code, r)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestAppendChunk(t *testing.T) {
	if got := AppendChunk(nil, nil); len(got) != 0 {
		t.Errorf("empty chunk: %q", got)
	}
	if got := string(AppendChunk(nil, []byte("hello"))); got != "5\r\nhello\r\n" {
		t.Errorf("got %q", got)
	}
	big := bytes.Repeat([]byte("z"), 300)
	body := AppendChunk(nil, big)
	if !strings.HasPrefix(string(body), "12c\r\n") {
		t.Errorf("got %q", body[:8])
	}
	body = AppendChunk(body, []byte("!"))
	body = AppendLastChunk(body)
	// What we write, our decoder reads.
	got := decodeWhole(body)
	if !got.done || got.data != string(big)+"!" || got.consumed != len(body) {
		t.Errorf("round trip: %v", got)
	}
	if string(AppendLastChunk(nil)) != "0\r\n\r\n" {
		t.Error("AppendLastChunk")
	}
}

func TestValidHeader(t *testing.T) {
	for _, tt := range []struct {
		s    string
		name bool
		val  bool
	}{
		{"X-Custom", true, true},
		{"", false, true},
		{"a b", false, true},
		{"a:b", false, true},
		{"a\tb", false, true},
		{"caf\xc3\xa9", false, true},
		{"a\r\nb", false, false},
		{"a\nb", false, false},
		{"a\rb", false, false},
		{"a\x00b", false, false},
		{"a\x01b", false, false},
		{"a\x7fb", false, false},
		{strings.Repeat("abcdefgh", 4) + "\n", false, false},
		{strings.Repeat("abcdefgh", 4) + "\t", false, true},
	} {
		if got := ValidHeaderName([]byte(tt.s)); got != tt.name {
			t.Errorf("ValidHeaderName(%q) = %v", tt.s, got)
		}
		if got := ValidHeaderValue([]byte(tt.s)); got != tt.val {
			t.Errorf("ValidHeaderValue(%q) = %v", tt.s, got)
		}
	}
}

// ValidHeaderValue accepts exactly what Parse accepts in a field value.
func TestValidHeaderValueMatchesParse(t *testing.T) {
	for c := 0; c < 256; c++ {
		for _, pad := range []int{0, 9} {
			v := []byte(strings.Repeat("v", pad) + string(rune(0)) + "w")
			v[pad] = byte(c)
			head := "GET / HTTP/1.1\r\nHost: h\r\nX: " + string(v) + "\r\n\r\n"
			_, _, err := parseString(head, Limits{})
			if ValidHeaderValue(v) != (err == nil) {
				t.Errorf("byte %#x at %d: ValidHeaderValue %v, Parse %v", c, pad, ValidHeaderValue(v), err)
			}
		}
	}
}

func TestEqualFold(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"Content-Length", "content-length", true},
		{"HOST", "host", true},
		{"host", "hosts", false},
		{"hos", "host", false},
		{"", "", true},
		{"[", "{", false}, // differ only in bit 0x20 but are not letters
		{"@", "`", false},
		{"\xc0", "\xe0", false},
		{"k", "\u212a", false},
	} {
		if got := EqualFold([]byte(tt.a), tt.b); got != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestErrorResponse(t *testing.T) {
	for _, code := range []int{400, 404, 414, 431, 500, 501, 505, 599, 299} {
		resp := ErrorResponse(code)
		text := Reason(code)
		if code == 299 && text != "Success" {
			t.Errorf("Reason(299) = %q, want HAProxy's Success", text)
		}
		body := strconv.Itoa(code) + " " + text + "\n"
		head, got, ok := strings.Cut(string(resp), "\r\n\r\n")
		if !ok || got != body {
			t.Errorf("%d: body %q in %q", code, got, resp)
			continue
		}
		for _, want := range []string{
			"HTTP/1.1 " + strconv.Itoa(code) + " " + text,
			"Connection: close",
			"Content-Length: " + strconv.Itoa(len(body)),
			"Content-Type: text/plain",
		} {
			if !strings.Contains(head, want) {
				t.Errorf("%d: %q missing in %q", code, want, head)
			}
		}
		if cap(resp) != len(resp) {
			t.Errorf("%d: cap %d > len %d", code, cap(resp), len(resp))
		}
	}
	if got := string(ErrorResponse(42)); !strings.HasPrefix(got, "HTTP/1.1 500 Internal Server Error\r\n") {
		t.Errorf("out-of-range code: %q", got)
	}
	if &ErrorResponse(400)[0] != &ErrorResponse(400)[0] {
		t.Error("400 not cached")
	}
	if n := testing.AllocsPerRun(100, func() { ErrorResponse(431) }); n != 0 {
		t.Errorf("ErrorResponse allocates %v", n)
	}
}

func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	now := time.Now()
	name, value := []byte("Content-Type"), []byte("text/plain")
	data := []byte("hello")
	n := testing.AllocsPerRun(100, func() {
		b := AppendStatusLine(buf[:0], 1, 200, "")
		b = AppendDate(b, now)
		b = AppendHeader(b, name, value)
		b = AppendChunk(b, data)
		_ = AppendLastChunk(b)
	})
	if n != 0 {
		t.Errorf("append helpers allocate %v times", n)
	}
}

func BenchmarkAppendResponseHead(b *testing.B) {
	buf := make([]byte, 0, 512)
	now := time.Now()
	ct, ctv := []byte("Content-Type"), []byte("application/json")
	cl, clv := []byte("Content-Length"), []byte("1234")
	b.ReportAllocs()
	for b.Loop() {
		d := AppendStatusLine(buf[:0], 1, 200, "")
		d = AppendDate(d, now)
		d = AppendHeader(d, ct, ctv)
		d = AppendHeader(d, cl, clv)
		buf = append(d, '\r', '\n')
	}
}

func BenchmarkAppendDate(b *testing.B) {
	buf := make([]byte, 0, 64)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendDate(buf[:0], now)
	}
}

func BenchmarkAppendChunk(b *testing.B) {
	buf := make([]byte, 0, 8192)
	data := bytes.Repeat([]byte("x"), 4096)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendChunk(buf[:0], data)
	}
}

func BenchmarkValidHeaderValue(b *testing.B) {
	v := []byte("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0 Safari/537.36")
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		if !ValidHeaderValue(v) {
			b.Fatal("invalid")
		}
	}
}
