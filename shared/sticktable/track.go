package sticktable

import "net"

// ByteCount holds the bytes a tracked client sent (In) and received (Out)
// that are not yet in its entry. A connection owns its own.
type ByteCount struct{ In, Out int64 }

// AddTo adds the counted bytes to key's bytes_in_cnt and bytes_out_cnt.
func (b *ByteCount) AddTo(t *Table, key string) {
	if b.In != 0 || b.Out != 0 {
		t.Bytes(key, b.In, b.Out)
		*b = ByteCount{}
	}
}

// TrackKey returns the key a connection from remote is tracked under in
// t, or "" (no table, or an address the table's type cannot hold).
func TrackKey(t *Table, remote net.Addr) string {
	if t == nil {
		return ""
	}
	a, ok := remote.(*net.TCPAddr)
	if !ok {
		return ""
	}
	k, err := t.Key(a.IP.String())
	if err != nil {
		return ""
	}
	return k
}
