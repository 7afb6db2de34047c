package http2

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// client is the client side of a test: x/net/http2's Framer writes its
// frames into bytes a Conn consumes, and reads the Conn's output back.
type client struct {
	t      testing.TB
	c      *Conn
	wire   bytes.Buffer // client to server, not yet consumed
	from   bytes.Buffer // server to client, not yet read
	fr     *http2.Framer
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	events []string // of the last feed
	err    error    // of the last feed
}

func newClient(t testing.TB, lim Limits) *client {
	cl := &client{t: t, c: NewConn(lim)}
	cl.fr = http2.NewFramer(&cl.wire, &cl.from)
	cl.fr.AllowIllegalWrites = true
	cl.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	cl.fr.SetMaxReadFrameSize(MaxMaxFrameSize)
	cl.enc = hpack.NewEncoder(&cl.encBuf)
	return cl
}

// start sends the preface and SETTINGS, and checks the server's preface
// and acknowledgement.
func (cl *client) start(settings ...http2.Setting) {
	cl.t.Helper()
	cl.wire.WriteString(ClientPreface)
	cl.fr.WriteSettings(settings...)
	cl.feed()
	got := cl.read()
	if len(got) < 2 || !strings.HasPrefix(got[0], "SETTINGS ") || got[len(got)-1] != "SETTINGS ACK" {
		cl.t.Fatalf("server preface: %q", got)
	}
}

// feed gives the Conn everything the client wrote, in one Feed.
func (cl *client) feed() error {
	cl.t.Helper()
	n, err := cl.c.Feed(cl.wire.Bytes())
	if n > cl.wire.Len() {
		cl.t.Fatalf("consumed %d of %d", n, cl.wire.Len())
	}
	cl.wire.Next(n)
	cl.events = cl.events[:0]
	for _, ev := range cl.c.Events() {
		cl.events = append(cl.events, eventString(ev))
	}
	cl.from.Write(cl.c.Output())
	cl.err = err
	return err
}

// read returns what the server wrote since the last read, a line a frame.
func (cl *client) read() []string {
	cl.t.Helper()
	var out []string
	for {
		f, err := cl.fr.ReadFrame()
		if err == io.EOF {
			return out
		}
		if err != nil {
			cl.t.Fatalf("reading the server's frames: %v (after %q)", err, out)
		}
		out = append(out, frameString(f))
	}
}

// block encodes name, value pairs into a header block.
func (cl *client) block(nv ...string) []byte {
	cl.encBuf.Reset()
	for i := 0; i < len(nv); i += 2 {
		cl.enc.WriteField(hpack.HeaderField{Name: nv[i], Value: nv[i+1]})
	}
	return bytes.Clone(cl.encBuf.Bytes())
}

var getFields = []string{":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/"}

// get opens stream id with a GET.
func (cl *client) get(id uint32) {
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: cl.block(getFields...), EndStream: true, EndHeaders: true})
}

// post opens stream id with a POST whose body follows.
func (cl *client) post(id uint32, extra ...string) {
	f := append([]string{":method", "POST", ":scheme", "https", ":authority", "example.com", ":path", "/up"}, extra...)
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: cl.block(f...), EndHeaders: true})
}

// expect checks the events of the last feed and what the server wrote.
func (cl *client) expect(events, frames []string) {
	cl.t.Helper()
	if got := cl.events; strings.Join(got, "\n") != strings.Join(events, "\n") {
		cl.t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(events, "\n"))
	}
	if got := cl.read(); strings.Join(got, "\n") != strings.Join(frames, "\n") {
		cl.t.Fatalf("frames:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(frames, "\n"))
	}
}

// expectFrames checks what the server wrote, after a flush.
func (cl *client) expectFrames(frames ...string) {
	cl.t.Helper()
	cl.flush()
	if got := cl.read(); strings.Join(got, "\n") != strings.Join(frames, "\n") {
		cl.t.Fatalf("frames:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(frames, "\n"))
	}
}

// flush takes what the Conn queued outside a Feed.
func (cl *client) flush() { cl.from.Write(cl.c.Output()) }

// respond answers stream id with status, fields and body, ending it.
func (cl *client) respond(id uint32, status int, body string, nv ...string) {
	cl.t.Helper()
	c := cl.c
	c.StartHeaders(id, status)
	for i := 0; i < len(nv); i += 2 {
		c.AddField([]byte(nv[i]), []byte(nv[i+1]))
	}
	if err := c.SendHeaders(body == ""); err != nil {
		cl.t.Fatal(err)
	}
	if body != "" {
		if n, err := c.WriteData(id, []byte(body), true); n != len(body) || err != nil {
			cl.t.Fatalf("WriteData: %d %v", n, err)
		}
	}
	cl.from.Write(c.Output())
}

func eventString(ev Event) string {
	var b strings.Builder
	switch ev.Kind {
	case EventRequest:
		fmt.Fprintf(&b, "REQUEST %d %s %s %s %s cl=%d", ev.Stream, ev.Method, ev.Scheme, ev.Authority, ev.Path, ev.ContentLength)
		if ev.Protocol != "" {
			fmt.Fprintf(&b, " protocol=%s", ev.Protocol)
		}
	case EventData:
		fmt.Fprintf(&b, "DATA %d %s", ev.Stream, abbrev(ev.Data))
	case EventTrailers:
		fmt.Fprintf(&b, "TRAILERS %d", ev.Stream)
	case EventReset:
		fmt.Fprintf(&b, "RESET %d %v", ev.Stream, ev.Code)
	case EventWindow:
		fmt.Fprintf(&b, "WINDOW %d", ev.Stream)
	case EventGoAway:
		fmt.Fprintf(&b, "GOAWAY %v", ev.Code)
	default:
		fmt.Fprintf(&b, "kind %d", ev.Kind)
	}
	for _, f := range ev.Fields {
		fmt.Fprintf(&b, " %s=%s", f.Name, f.Value)
	}
	if ev.End {
		b.WriteString(" END")
	}
	return b.String()
}

func abbrev(p []byte) string {
	if len(p) > 32 {
		return fmt.Sprintf("%d bytes", len(p))
	}
	return fmt.Sprintf("%q", p)
}

// frameString describes a frame the Framer read.
func frameString(f http2.Frame) string {
	h := f.Header()
	var b strings.Builder
	fmt.Fprintf(&b, "%v %d", h.Type, h.StreamID)
	switch f := f.(type) {
	case *http2.SettingsFrame:
		b.Reset()
		b.WriteString("SETTINGS")
		if f.IsAck() {
			b.WriteString(" ACK")
		}
		f.ForeachSetting(func(s http2.Setting) error {
			fmt.Fprintf(&b, " %v=%d", s.ID, s.Val)
			return nil
		})
	case *http2.MetaHeadersFrame:
		if f.StreamEnded() {
			b.WriteString(" END_STREAM")
		}
		for _, hf := range f.Fields {
			fmt.Fprintf(&b, " %s=%s", hf.Name, hf.Value)
		}
	case *http2.DataFrame:
		if f.StreamEnded() {
			b.WriteString(" END_STREAM")
		}
		fmt.Fprintf(&b, " %s", abbrev(f.Data()))
	case *http2.RSTStreamFrame:
		fmt.Fprintf(&b, " %v", ErrCode(f.ErrCode))
	case *http2.GoAwayFrame:
		b.Reset()
		fmt.Fprintf(&b, "GOAWAY %d %v", f.LastStreamID, ErrCode(f.ErrCode))
	case *http2.PingFrame:
		b.Reset()
		b.WriteString("PING")
		if f.IsAck() {
			b.WriteString(" ACK")
		}
		fmt.Fprintf(&b, " %q", f.Data[:])
	case *http2.WindowUpdateFrame:
		fmt.Fprintf(&b, " +%d", f.Increment)
	}
	return b.String()
}
