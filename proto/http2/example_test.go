package http2_test

import (
	"bytes"
	"fmt"

	"golang.org/x/net/http2/hpack"

	"github.com/luaedge/luaedge/proto/http2"
)

// A caller's loop: feed what was read, act on the events, write the
// output.
func ExampleConn() {
	// What a client sends: the preface, its SETTINGS, a POST in two DATA
	// frames.
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/echo"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	in := []byte(http2.ClientPreface)
	in = http2.AppendSettings(in)
	in = http2.AppendHeaders(in, 1, http2.FlagEndHeaders, block.Bytes())
	in = http2.AppendData(in, 1, false, []byte("hello, "))
	in = http2.AppendData(in, 1, true, []byte("world"))

	c := http2.NewConn(http2.Limits{})
	var body []byte
	// Bytes arrive in pieces; what Feed does not consume stays for the
	// next read.
	var pending []byte
	for _, read := range [][]byte{in[:30], in[30:70], in[70:]} {
		pending = append(pending, read...)
		n, err := c.Feed(pending)
		if err != nil {
			fmt.Println("connection error:", err) // write c.Output(), then close
			return
		}
		for _, ev := range c.Events() {
			switch ev.Kind {
			case http2.EventRequest:
				fmt.Println("request", ev.Stream, ev.Method, ev.Path)
			case http2.EventData:
				body = append(body, ev.Data...)
				c.Consumed(ev.Stream, len(ev.Data))
				if ev.End {
					c.StartHeaders(ev.Stream, 200)
					c.AddField([]byte("Content-Type"), []byte("text/plain"))
					c.SendHeaders(false)
					if n, _ := c.WriteData(ev.Stream, body, true); n < len(body) {
						fmt.Println("held back until EventWindow:", len(body)-n)
					}
				}
			}
		}
		pending = append(pending[:0], pending[n:]...)
		out := c.Output() // write these to the connection
		for len(out) > 0 {
			f, m, _ := http2.ParseFrame(out, http2.MaxMaxFrameSize)
			fmt.Printf("wrote %v on stream %d, %d bytes\n", f.Type, f.StreamID, f.Length)
			out = out[m:]
		}
	}
	fmt.Printf("echoed %q; idle: %v\n", body, c.Idle())
	// Output:
	// wrote SETTINGS on stream 0, 30 bytes
	// wrote WINDOW_UPDATE on stream 0, 4 bytes
	// request 1 POST /echo
	// wrote SETTINGS on stream 0, 0 bytes
	// wrote HEADERS on stream 1, 12 bytes
	// wrote DATA on stream 1, 12 bytes
	// echoed "hello, world"; idle: true
}
