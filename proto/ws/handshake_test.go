package ws

import (
	"strings"
	"testing"
)

// offer gathers "Name: value" lines into an Offer.
func offer(lines ...string) *Offer {
	var o Offer
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ":")
		o.AddField([]byte(name), []byte(strings.TrimSpace(value)))
	}
	return &o
}

var baseRequest = []string{
	"Host: server.example.com",
	"Upgrade: websocket",
	"Connection: Upgrade",
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
	"Sec-WebSocket-Version: 13",
}

// The example of RFC 6455 §1.3.
func TestAcceptKey(t *testing.T) {
	got := AcceptKey([]byte("dGhlIHNhbXBsZSBub25jZQ=="))
	if string(got[:]) != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("%s", got)
	}
}

func TestAcceptValid(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		opt   Options
		want  string // the fields of the response
	}{
		{"RFC example", baseRequest, Options{},
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"},
		{"names and tokens in any case, lists", []string{
			"upgrade: WebSocket", "CONNECTION: keep-alive, Upgrade", "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-Websocket-Version: 13",
		}, Options{}, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"},
		{"subprotocol, ours preferred", append(baseRequest, "Sec-WebSocket-Protocol: chat, superchat"), Options{Protocols: []string{"superchat", "chat"}},
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: superchat\r\n"},
		{"subprotocols on two lines", append(baseRequest, "Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol: b, chat"), Options{Protocols: []string{"chat"}},
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n"},
		{"no subprotocol in common", append(baseRequest, "Sec-WebSocket-Protocol: Chat"), Options{Protocols: []string{"chat"}},
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"},
		{"deflate", append(baseRequest, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"), Options{Deflate: true},
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"},
		{"deflate not accepted", append(baseRequest, "Sec-WebSocket-Extensions: permessage-deflate"), Options{},
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"},
	}
	for _, tt := range tests {
		res, err := offer(tt.lines...).Accept([]byte("GET"), 1, &tt.opt)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := string(res.AppendFields(nil)); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// RFC 6455 §4.2.1 and §4.2.2: what a server refuses, and with which
// status.
func TestAcceptReject(t *testing.T) {
	without := func(prefix string) []string {
		var out []string
		for _, l := range baseRequest {
			if !strings.HasPrefix(l, prefix) {
				out = append(out, l)
			}
		}
		return out
	}
	tests := []struct {
		name   string
		method string
		minor  int
		lines  []string
		status int
	}{
		{"POST", "POST", 1, baseRequest, 400},
		{"HTTP/1.0", "GET", 0, baseRequest, 400},
		{"no Upgrade", "GET", 1, without("Upgrade"), 400},
		{"Upgrade to something else", "GET", 1, append(without("Upgrade"), "Upgrade: h2c"), 400},
		{"no Connection: upgrade", "GET", 1, append(without("Connection"), "Connection: keep-alive"), 400},
		{"no version", "GET", 1, without("Sec-WebSocket-Version"), 400},
		{"version 8", "GET", 1, append(without("Sec-WebSocket-Version"), "Sec-WebSocket-Version: 8"), 426},
		{"two versions", "GET", 1, append(baseRequest, "Sec-WebSocket-Version: 13"), 426},
		{"no key", "GET", 1, without("Sec-WebSocket-Key"), 400},
		{"two keys", "GET", 1, append(baseRequest, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="), 400},
		{"short key", "GET", 1, append(without("Sec-WebSocket-Key"), "Sec-WebSocket-Key: dGhlIHNhbXBsZQ=="), 400},
		{"key without padding", "GET", 1, append(without("Sec-WebSocket-Key"), "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA"), 400},
		{"key outside the alphabet", "GET", 1, append(without("Sec-WebSocket-Key"), "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ-=="), 400},
	}
	for _, tt := range tests {
		_, err := offer(tt.lines...).Accept([]byte(tt.method), tt.minor, &Options{})
		e, ok := err.(*HandshakeError)
		if !ok || e.Status != tt.status {
			t.Errorf("%s: %v, want status %d", tt.name, err, tt.status)
		}
	}
}

func TestOfferReset(t *testing.T) {
	o := offer(baseRequest...)
	o.Reset()
	if _, err := o.Accept([]byte("GET"), 1, &Options{}); err == nil {
		t.Fatal("accepted after Reset")
	}
}

func TestAcceptZeroAllocs(t *testing.T) {
	var names, values [][]byte
	for _, l := range append(baseRequest, "Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits") {
		n, v, _ := strings.Cut(l, ": ")
		names, values = append(names, []byte(n)), append(values, []byte(v))
	}
	opt := &Options{Protocols: []string{"chat"}, Deflate: true}
	var o Offer
	out := make([]byte, 0, 512)
	method := []byte("GET")
	allocs := testing.AllocsPerRun(100, func() {
		o.Reset()
		for i := range names {
			o.AddField(names[i], values[i])
		}
		res, err := o.Accept(method, 1, opt)
		if err != nil {
			t.Fatal(err)
		}
		out = res.AppendFields(out[:0])
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

// RFC 8441 §5: over HTTP/2 only the version is checked; the subprotocol
// and permessage-deflate are negotiated as over HTTP/1.1.
func TestAcceptConnect(t *testing.T) {
	o := offer("Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: chat, superchat", "Sec-WebSocket-Extensions: permessage-deflate")
	res, err := o.AcceptConnect(&Options{Protocols: []string{"superchat"}, Deflate: true})
	if err != nil || res.Protocol != "superchat" || !res.Deflate.On {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := offer().AcceptConnect(&Options{}); err != errNoVersion {
		t.Fatalf("no version: %v", err)
	}
	if _, err := offer("Sec-WebSocket-Version: 8").AcceptConnect(&Options{}); err != errVersion {
		t.Fatalf("version 8: %v", err)
	}
}
