package config

import (
	"strings"
	"testing"
)

func TestStickRules(t *testing.T) {
	base := func(stick []StickRule, store []string) *Config {
		return &Config{
			Frontends: []Frontend{{Name: "f", Bind: []string{"127.0.0.1:0"}, Mode: "http", DefaultBackend: "app"}},
			Backends: []Backend{{Name: "app", Servers: []Server{{Name: "a", Address: "127.0.0.1:1"}},
				StickTable: &StickTable{Type: "ip", Size: 10, Store: store}, Stick: stick}},
		}
	}
	if err := base([]StickRule{{On: "src"}, {Match: "req.hdr(x-user)"}, {StoreRequest: "req.cook(sid)"}}, []string{"server_id"}).Complete(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		stick []StickRule
		store []string
		want  string
	}{
		{[]StickRule{{On: "src", Match: "src"}}, []string{"server_id"}, "backends[0].stick[0]: want one of on, match and store_request"},
		{[]StickRule{{On: "path"}}, []string{"server_id"}, `backends[0].stick[0]: key: want src, req.cook(NAME) or req.hdr(NAME), got "path"`},
		{[]StickRule{{On: "src"}}, []string{"conn_cnt"}, "backends[0].stick[0]: stick table app must store server_id"},
		{[]StickRule{{On: "src", Table: "nope"}}, []string{"server_id"}, `backends[0].stick[0].table: no frontend or backend "nope"`},
	} {
		err := base(c.stick, c.store).Complete()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.stick, err, c.want)
		}
	}
}
