package haproxycfg

import (
	"reflect"
	"strings"
	"testing"
)

// filter lua.NAME lines become the frontend's filters, in order, their
// arguments quoted when they hold spaces.
func TestFilterLines(t *testing.T) {
	res, err := Load(write(t, "haproxy.cfg", `frontend f
    mode http
    bind 127.0.0.1:80
    filter lua.first a b
    filter lua.second "two words" ""
    http-request return status 200

listen l
    mode http
    bind 127.0.0.1:81
    filter lua.third
    http-request return status 200
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range res.Config.Frontends {
		got[f.Name] = f.Filters
	}
	want := map[string][]string{"f": {"lua.first a b", `lua.second "two words" ""`}, "l": {"lua.third"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("filters %q, want %q", got, want)
	}
}

func TestFilterErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"frontend f\n  bind :80\n  mode http\n  filter compression\n", "haproxy.cfg:4: 'filter compression' is not supported by luaedge: only Lua filters"},
		{"frontend f\n  bind :80\n  mode http\n  filter\n", "haproxy.cfg:4: 'filter' expects a filter name"},
		{"frontend f\n  bind :80\n  mode tcp\n  filter lua.x\n", "haproxy.cfg:4: 'filter lua.x': Lua filters in mode tcp are not supported by luaedge"},
		{"backend b\n  mode http\n  filter lua.x\n", "haproxy.cfg:3: 'filter' in a backend section is not supported by luaedge"},
		{"defaults\n  mode http\n  filter lua.x\n", "haproxy.cfg:3: 'filter' is not allowed in a defaults section"},
		{"frontend f\n  bind :80\n  mode http\n  filter lua.x 'a\"b'\n", "haproxy.cfg:4: 'filter lua.x': an argument holding"},
	} {
		_, err := Load(write(t, "haproxy.cfg", tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
