package http2

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// frame builds a frame from a header and a hex payload.
func frame(typ FrameType, flags Flags, id uint32, payloadHex string) []byte {
	payload, err := hex.DecodeString(strings.ReplaceAll(payloadHex, " ", ""))
	if err != nil {
		panic(err)
	}
	b := AppendFrameHeader(nil, FrameHeader{uint32(len(payload)), typ, flags, id})
	return append(b, payload...)
}

func TestParseFrame(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
		err  *Error // nil: parsed
		data string // hex of Frame.Data when parsed
		pri  Priority
	}{
		{"DATA", frame(FrameData, FlagEndStream, 1, "616263"), nil, "616263", Priority{}},
		{"DATA padded", frame(FrameData, FlagPadded, 1, "02 6162 0000"), nil, "6162", Priority{}},
		{"DATA all padding", frame(FrameData, FlagPadded, 1, "02 0000"), nil, "", Priority{}},
		// RFC 9113 §6.1: padding as long as the payload or longer.
		{"DATA padding too long", frame(FrameData, FlagPadded, 1, "03 0000"), errPadding, "", Priority{}},
		{"DATA padded without pad length", frame(FrameData, FlagPadded, 1, ""), errFrameTooShort, "", Priority{}},
		{"DATA on stream 0", frame(FrameData, 0, 0, "61"), errStreamZero, "", Priority{}},
		{"HEADERS", frame(FrameHeaders, FlagEndHeaders, 3, "82"), nil, "82", Priority{}},
		{"HEADERS priority and padding", frame(FrameHeaders, FlagPadded|FlagPriority, 3, "01 80000001 0f 82 00"), nil, "82", Priority{1, true, 15}},
		{"HEADERS priority cut short", frame(FrameHeaders, FlagPriority, 3, "00000001"), errFrameTooShort, "", Priority{}},
		// RFC 9113 §6.2: padding past the fragment.
		{"HEADERS padding too long", frame(FrameHeaders, FlagPadded|FlagPriority, 3, "02 00000001 0f 82"), errPadding, "", Priority{}},
		{"HEADERS on stream 0", frame(FrameHeaders, 0, 0, "82"), errStreamZero, "", Priority{}},
		{"PRIORITY", frame(FramePriority, 0, 5, "00000003 10"), nil, "0000000310", Priority{3, false, 16}},
		// RFC 9113 §6.3: a stream error.
		{"PRIORITY length 4", frame(FramePriority, 0, 5, "00000003"), errPriorityLength, "", Priority{}},
		{"PRIORITY on stream 0", frame(FramePriority, 0, 0, "00000003 10"), errStreamZero, "", Priority{}},
		{"RST_STREAM", frame(FrameRSTStream, 0, 1, "00000008"), nil, "00000008", Priority{}},
		{"RST_STREAM length 3", frame(FrameRSTStream, 0, 1, "000008"), errRSTLength, "", Priority{}},
		{"RST_STREAM on stream 0", frame(FrameRSTStream, 0, 0, "00000008"), errStreamZero, "", Priority{}},
		{"SETTINGS", frame(FrameSettings, 0, 0, "0003 00000064 ffff 00000001"), nil, "000300000064ffff00000001", Priority{}},
		{"SETTINGS ACK", frame(FrameSettings, FlagAck, 0, ""), nil, "", Priority{}},
		{"SETTINGS ACK with payload", frame(FrameSettings, FlagAck, 0, "0003 00000064"), errSettingsAck, "", Priority{}},
		{"SETTINGS length 5", frame(FrameSettings, 0, 0, "0003 000000"), errSettingsLength, "", Priority{}},
		{"SETTINGS on a stream", frame(FrameSettings, 0, 1, ""), errStreamNonZero, "", Priority{}},
		{"SETTINGS_ENABLE_PUSH 2", frame(FrameSettings, 0, 0, "0002 00000002"), errEnablePush, "", Priority{}},
		{"SETTINGS_INITIAL_WINDOW_SIZE 2^31", frame(FrameSettings, 0, 0, "0004 80000000"), errInitialWindow, "", Priority{}},
		{"SETTINGS_MAX_FRAME_SIZE 16383", frame(FrameSettings, 0, 0, "0005 00003fff"), errMaxFrameSize, "", Priority{}},
		{"SETTINGS_MAX_FRAME_SIZE 2^24", frame(FrameSettings, 0, 0, "0005 01000000"), errMaxFrameSize, "", Priority{}},
		{"PING", frame(FramePing, 0, 0, "0102030405060708"), nil, "0102030405060708", Priority{}},
		{"PING length 7", frame(FramePing, 0, 0, "01020304050607"), errPingLength, "", Priority{}},
		{"PING on a stream", frame(FramePing, 0, 1, "0102030405060708"), errStreamNonZero, "", Priority{}},
		{"GOAWAY", frame(FrameGoAway, 0, 0, "00000005 00000000 6869"), nil, "00000005000000006869", Priority{}},
		{"GOAWAY length 7", frame(FrameGoAway, 0, 0, "00000005 000000"), errGoAwayLength, "", Priority{}},
		{"GOAWAY on a stream", frame(FrameGoAway, 0, 3, "00000005 00000000"), errStreamNonZero, "", Priority{}},
		{"WINDOW_UPDATE", frame(FrameWindowUpdate, 0, 1, "00000400"), nil, "00000400", Priority{}},
		{"WINDOW_UPDATE length 3", frame(FrameWindowUpdate, 0, 1, "000004"), errWindowLength, "", Priority{}},
		// RFC 9113 §6.9: an increment of 0, on the connection or a stream.
		{"WINDOW_UPDATE 0 on the connection", frame(FrameWindowUpdate, 0, 0, "00000000"), errWindowZero, "", Priority{}},
		{"WINDOW_UPDATE 0 on a stream", frame(FrameWindowUpdate, 0, 1, "80000000"), errStreamWindowZero, "", Priority{}},
		{"CONTINUATION", frame(FrameContinuation, FlagEndHeaders, 1, "82"), nil, "82", Priority{}},
		{"CONTINUATION on stream 0", frame(FrameContinuation, 0, 0, "82"), errStreamZero, "", Priority{}},
		{"PUSH_PROMISE on stream 0", frame(FramePushPromise, 0, 0, "00000002"), errStreamZero, "", Priority{}},
		// RFC 9113 §5.5: unknown types pass, to be ignored.
		{"unknown type", frame(0xfa, 0xff, 0, "00"), nil, "00", Priority{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, n, err := ParseFrame(tt.in, MinMaxFrameSize)
			if tt.err != nil {
				if err != tt.err {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if tt.err.Stream && n != len(tt.in) {
					t.Fatalf("stream error consumed %d of %d", n, len(tt.in))
				}
				return
			}
			if err != nil || n != len(tt.in) {
				t.Fatalf("n=%d err=%v", n, err)
			}
			if got := hex.EncodeToString(f.Data); got != tt.data {
				t.Fatalf("data %s, want %s", got, tt.data)
			}
			if f.Priority != tt.pri {
				t.Fatalf("priority %+v, want %+v", f.Priority, tt.pri)
			}
			// Any shorter prefix is incomplete.
			for i := range len(tt.in) {
				if _, n, err := ParseFrame(tt.in[:i], MinMaxFrameSize); err != ErrIncomplete || n != 0 {
					t.Fatalf("prefix %d: n=%d err=%v", i, n, err)
				}
			}
		})
	}
}

// A frame longer than the limit is refused from its header alone, before
// its payload is buffered (RFC 9113 §4.2).
func TestParseFrameTooLarge(t *testing.T) {
	h := AppendFrameHeader(nil, FrameHeader{MinMaxFrameSize + 1, FrameData, 0, 1})
	if _, _, err := ParseFrame(h, MinMaxFrameSize); err != errFrameTooLarge {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := ParseFrame(h, MinMaxFrameSize+1); err != ErrIncomplete {
		t.Fatalf("larger limit: err = %v", err)
	}
}

// The reserved bit of the stream id is ignored (RFC 9113 §4.1).
func TestParseFrameReservedBit(t *testing.T) {
	b := frame(FramePing, 0, 0, "0000000000000000")
	b[5] |= 0x80
	f, _, err := ParseFrame(b, MinMaxFrameSize)
	if err != nil || f.StreamID != 0 {
		t.Fatalf("id %d err %v", f.StreamID, err)
	}
}

func TestAppendRoundTrip(t *testing.T) {
	var b []byte
	b = AppendData(b, 1, true, []byte("body"))
	b = AppendHeaders(b, 3, FlagEndStream, []byte{0x88})
	b = AppendContinuation(b, 3, true, []byte{0x82})
	b = AppendRSTStream(b, 5, ErrCodeCancel)
	b = AppendSettings(b, Setting{SettingMaxFrameSize, 1 << 20}, Setting{SettingEnablePush, 0})
	b = AppendSettingsAck(b)
	b = AppendPing(b, true, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	b = AppendGoAway(b, 7, ErrCodeEnhanceYourCalm, []byte("calm"))
	b = AppendWindowUpdate(b, 9, MaxWindow)
	var got []string
	for len(b) > 0 {
		f, n, err := ParseFrame(b, MinMaxFrameSize)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, describe(&f))
		b = b[n:]
	}
	want := []string{
		`DATA 1 END_STREAM "body"`,
		`HEADERS 3 END_STREAM "\x88"`,
		`CONTINUATION 3 END_HEADERS "\x82"`,
		`RST_STREAM 5 CANCEL`,
		`SETTINGS 5=1048576 2=0`,
		`SETTINGS ACK`,
		`PING ACK [1 2 3 4 5 6 7 8]`,
		`GOAWAY 7 ENHANCE_YOUR_CALM "calm"`,
		`WINDOW_UPDATE 9 +2147483647`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestErrCodeString(t *testing.T) {
	if ErrCodeEnhanceYourCalm.String() != "ENHANCE_YOUR_CALM" || ErrCode(0x42).String() != "unknown" {
		t.Fatal(ErrCodeEnhanceYourCalm.String(), ErrCode(0x42).String())
	}
}

func BenchmarkParseFrameData(b *testing.B) {
	buf := AppendData(nil, 1, false, bytes.Repeat([]byte("x"), 1024))
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseFrame(buf, MinMaxFrameSize); err != nil {
			b.Fatal(err)
		}
	}
}

// describe describes a frame ParseFrame returned.
func describe(f *Frame) string {
	var b strings.Builder
	b.WriteString(f.Type.String())
	switch f.Type {
	case FrameSettings, FramePing, FrameGoAway:
	default:
		fmt.Fprintf(&b, " %d", f.StreamID)
	}
	switch f.Type {
	case FrameData, FrameHeaders, FrameContinuation:
		if f.Type != FrameContinuation && f.Flags.Has(FlagEndStream) {
			b.WriteString(" END_STREAM")
		}
		if f.Type == FrameContinuation && f.Flags.Has(FlagEndHeaders) {
			b.WriteString(" END_HEADERS")
		}
		fmt.Fprintf(&b, " %q", f.Data)
	case FrameRSTStream:
		fmt.Fprintf(&b, " %v", f.ErrCode())
	case FrameSettings:
		if f.Flags.Has(FlagAck) {
			b.WriteString(" ACK")
		}
		for i := range f.NumSettings() {
			s := f.Setting(i)
			fmt.Fprintf(&b, " %d=%d", s.ID, s.Val)
		}
	case FramePing:
		if f.Flags.Has(FlagAck) {
			b.WriteString(" ACK")
		}
		fmt.Fprintf(&b, " %v", f.PingData())
	case FrameGoAway:
		fmt.Fprintf(&b, " %d %v %q", f.LastStreamID(), f.ErrCode(), f.DebugData())
	case FrameWindowUpdate:
		fmt.Fprintf(&b, " +%d", f.Increment())
	}
	return b.String()
}
