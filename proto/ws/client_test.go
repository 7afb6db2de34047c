package ws

import (
	"bufio"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

func TestNewKey(t *testing.T) {
	a, b := NewKey(), NewKey()
	if a == b {
		t.Fatal("two keys alike")
	}
	raw, err := base64.StdEncoding.DecodeString(string(a[:]))
	if err != nil || len(raw) != 16 || !validKey(a[:]) {
		t.Fatalf("%s: %v, %d bytes", a, err, len(raw))
	}
}

// The request a client makes is one our server side (Offer) accepts, and
// net/http parses.
func TestAppendRequest(t *testing.T) {
	key := NewKey()
	req := AppendRequest(nil, "/chat?room=1", "example.com:8080", key[:], "chat, superchat", "Origin: http://example.com\r\n", true)
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(req))))
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "GET" || r.RequestURI != "/chat?room=1" || r.Host != "example.com:8080" || r.Header.Get("Origin") != "http://example.com" {
		t.Fatalf("%+v", r)
	}
	var o Offer
	for name, values := range r.Header {
		for _, v := range values {
			o.AddField([]byte(name), []byte(v))
		}
	}
	res, err := o.Accept([]byte(r.Method), r.ProtoMinor, &Options{Protocols: []string{"superchat"}, Deflate: true})
	if err != nil || res.Protocol != "superchat" || res.Accept != AcceptKey(key[:]) {
		t.Fatalf("%+v %v", res, err)
	}
	// Our server takes our client's offer: neither side keeps a context.
	if want := (Deflate{On: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true}); res.Deflate != want {
		t.Fatalf("deflate agreed: %+v, want %+v", res.Deflate, want)
	}
	if bare := AppendRequest(nil, "/", "h", key[:], "", "", false); strings.Contains(string(bare), "Protocol") || strings.Contains(string(bare), "Extensions") || !strings.HasSuffix(string(bare), "13\r\n\r\n") {
		t.Fatalf("%q", bare)
	}
}

// answer gathers "Name: value" lines into an Answer.
func answer(lines ...string) *Answer {
	var a Answer
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ":")
		a.AddField([]byte(name), []byte(strings.TrimSpace(value)))
	}
	return &a
}

// The checks of RFC 6455 §4.1 on the server's answer, with the key of the
// RFC's example (§1.3).
func TestAnswerCheck(t *testing.T) {
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	good := []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}
	tests := []struct {
		name      string
		status    int
		lines     []string
		protocols string
		want      string
		err       error
	}{
		{"RFC example", 101, good, "", "", nil},
		{"tokens in any case, lists", 101, []string{"upgrade: WebSocket", "connection: keep-alive, UPGRADE", "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, "", "", nil},
		{"subprotocol chosen", 101, append(good, "Sec-WebSocket-Protocol: chat"), "superchat, chat", "chat", nil},
		{"none chosen of those offered", 101, good, "chat", "", nil},
		{"not 101", 200, good, "", "", ErrNotSwitching},
		{"no upgrade", 101, good[1:], "", "", errAnsUpgrade},
		{"upgrade to another protocol", 101, append([]string{"Upgrade: h2c"}, good[1:]...), "", "", errAnsUpgrade},
		{"no connection", 101, []string{good[0], good[2]}, "", "", errAnsConnection},
		{"wrong accept", 101, append(good[:2:2], "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ=="), "", "", errAnsAccept},
		{"no accept", 101, good[:2], "", "", errAnsAccept},
		{"two accepts", 101, append(good, good[2]), "", "", errAnsMultiAccept},
		{"subprotocol not offered", 101, append(good, "Sec-WebSocket-Protocol: chat"), "", "", errAnsProtocol},
		{"another subprotocol", 101, append(good, "Sec-WebSocket-Protocol: chat"), "superchat", "", errAnsProtocol},
		{"a list of subprotocols", 101, append(good, "Sec-WebSocket-Protocol: chat, superchat"), "superchat, chat", "", errAnsProtocol},
		{"two subprotocol fields", 101, append(good, "Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"), "chat", "", errAnsProtocol},
		{"extension not offered", 101, append(good, "Sec-WebSocket-Extensions: permessage-deflate"), "", "", errAnsExtension},
	}
	for _, tt := range tests {
		got, d, err := answer(tt.lines...).Check(tt.status, key, tt.protocols, false)
		if got != tt.want || err != tt.err || d.On {
			t.Errorf("%s: %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}

// The server's answer to our permessage-deflate offer (RFC 7692 §7.1):
// the parameters it may add, and those that fail the connection.
func TestAnswerDeflate(t *testing.T) {
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	good := []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}
	tests := []struct {
		name string
		ext  []string // Sec-WebSocket-Extensions fields
		want Deflate
		err  error
	}{
		{"declined", nil, Deflate{}, nil},
		{"bare", []string{"permessage-deflate"}, Deflate{On: true}, nil},
		{"every parameter", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"},
			Deflate{On: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 9}, nil},
		{"quoted value, case, spaces", []string{"Permessage-Deflate ;  Server_Max_Window_Bits = \"12\""}, Deflate{On: true, ServerMaxWindowBits: 12}, nil},
		{"empty elements", []string{", permessage-deflate ,"}, Deflate{On: true}, nil},
		{"client bits without a value", []string{"permessage-deflate; client_max_window_bits"}, Deflate{}, errAnsDeflate},
		{"server bits without a value", []string{"permessage-deflate; server_max_window_bits"}, Deflate{}, errAnsDeflate},
		{"window of 16", []string{"permessage-deflate; server_max_window_bits=16"}, Deflate{}, errAnsDeflate},
		{"window of 7", []string{"permessage-deflate; client_max_window_bits=7"}, Deflate{}, errAnsDeflate},
		{"value on a flag", []string{"permessage-deflate; server_no_context_takeover=1"}, Deflate{}, errAnsDeflate},
		{"repeated parameter", []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, Deflate{}, errAnsDeflate},
		{"unknown parameter", []string{"permessage-deflate; mystery"}, Deflate{}, errAnsDeflate},
		{"chosen twice", []string{"permessage-deflate", "permessage-deflate"}, Deflate{}, errAnsExtension},
		{"another extension", []string{"x-webkit-deflate-frame"}, Deflate{}, errAnsExtension},
	}
	for _, tt := range tests {
		lines := append([]string(nil), good...)
		for _, e := range tt.ext {
			lines = append(lines, "Sec-WebSocket-Extensions: "+e)
		}
		_, d, err := answer(lines...).Check(101, key, "", true)
		if d != tt.want || err != tt.err {
			t.Errorf("%s: %+v, %v; want %+v, %v", tt.name, d, err, tt.want, tt.err)
		}
	}
	// Not offered, it must not be chosen.
	if _, _, err := answer(append(good, "Sec-WebSocket-Extensions: permessage-deflate")...).Check(101, key, "", false); err != errAnsExtension {
		t.Errorf("not offered: %v", err)
	}
}
