package http2

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/http2"
)

// A browser's GET, as in proto/http1's BenchmarkParseBrowser.
var browserGet = []string{
	":method", "GET", ":scheme", "https", ":authority", "www.example.com", ":path", "/static/app.3f2a9c.js",
	"user-agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
	"accept", "*/*",
	"accept-language", "en-US,en;q=0.9,de;q=0.8",
	"accept-encoding", "gzip, deflate, br, zstd",
	"referer", "https://www.example.com/products/widgets?page=2",
	"cookie", "session=8f14e45fceea167a5a36dedd4bea2543",
	"cookie", "theme=dark",
	"sec-fetch-dest", "script",
	"sec-fetch-mode", "no-cors",
	"sec-fetch-site", "same-origin",
	"if-none-match", `"3f2a9c"`,
}

// BenchmarkConnGet feeds a browser's GET on a connection whose HPACK
// table already holds its fields (a browser's second request: every field
// indexed, as browsers send them) and answers it with a head.
func BenchmarkConnGet(b *testing.B) {
	cl := newClient(b, Limits{})
	cl.start()
	var frame []byte
	for id := uint32(1); id <= 3; id += 2 {
		cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: cl.block(browserGet...), EndStream: true, EndHeaders: true})
		frame = append(frame[:0], cl.wire.Bytes()...)
		cl.feed()
		cl.respond(id, 200, "", "content-type", "text/javascript")
	}
	c := cl.c
	ctype, js := []byte("content-type"), []byte("text/javascript")
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	id := uint32(5)
	for b.Loop() {
		binary.BigEndian.PutUint32(frame[5:], id)
		if n, err := c.Feed(frame); n != len(frame) || err != nil {
			b.Fatal(n, err)
		}
		if ev := c.Events(); len(ev) != 1 || ev[0].Kind != EventRequest || len(ev[0].Fields) != 11 {
			b.Fatalf("%+v", ev)
		}
		c.StartHeaders(id, 200)
		c.AddField(ctype, js)
		c.SendHeaders(true)
		c.Output()
		id += 2
	}
}

// BenchmarkConnData feeds DATA frames of 1 KiB on an open stream, whose
// credit the caller gives back as it goes.
func BenchmarkConnData(b *testing.B) {
	cl := newClient(b, Limits{})
	cl.start()
	cl.post(1)
	cl.feed()
	cl.fr.WriteData(1, false, make([]byte, 1024))
	frame := append([]byte(nil), cl.wire.Bytes()...)
	c := cl.c
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := c.Feed(frame); n != len(frame) || err != nil {
			b.Fatal(n, err)
		}
		if ev := c.Events(); len(ev) != 1 || len(ev[0].Data) != 1024 {
			b.Fatalf("%+v", ev)
		}
		c.Consumed(1, 1024)
		c.Output()
	}
}
