package config

import (
	"strings"
	"testing"
	"time"
)

func TestSharedDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), "/etc/luaedge")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Shared
	if s.KV.Size != DefaultKVSize || s.KV.MaxValue != DefaultKVMaxValue || s.Artifacts.Size != DefaultArtifactsSize ||
		s.Artifacts.MaxSize != DefaultArtifactMaxSize || s.Redis != nil || len(s.Dicts) != 0 || s.Artifacts.Dir != "" {
		t.Fatalf("shared defaults: %+v", s)
	}
	// A small store's largest value defaults to a quarter of it.
	c, err = Parse([]byte("shared: {kv: {size: 1m}, artifacts: {size: 8m}}\n"+minimal), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Shared.KV.MaxValue != 256<<10 || c.Shared.Artifacts.MaxSize != 2<<20 {
		t.Fatalf("max_value %d, max_size %d for small stores", c.Shared.KV.MaxValue, c.Shared.Artifacts.MaxSize)
	}
}

func TestSharedRedis(t *testing.T) {
	c, err := Parse([]byte(`
shared:
  kv: {size: 8MiB, max_value: 64KiB}
  dicts:
    cache: {size: 1m}
    limits: {size: 100KiB}
  artifacts: {dir: art}
  redis: {address: "redis.local:6380", password: secret, db: 2, tls: {verify: none}}
stick_tables:
  - {name: fleet, type: ip, size: 1000, store: [http_req_rate(10s)], shared: redis}
  - {name: fast, type: ip, size: 1000, store: [gpc0], shared: redis, sync_interval: 20ms}
`+minimal), "/etc/luaedge")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Shared
	if s.KV.Size != 8<<20 || s.KV.MaxValue != 64<<10 || s.Dicts["cache"].Size != 1<<20 || s.Dicts["limits"].Size != 100<<10 {
		t.Fatalf("sizes: %+v", s)
	}
	if s.Artifacts.Dir != "/etc/luaedge/art" {
		t.Fatalf("artifacts.dir %q, want it taken from the file's folder", s.Artifacts.Dir)
	}
	r := s.Redis
	if r.Address != "redis.local:6380" || r.Password != "secret" || r.DB != 2 || r.TLS.Verify != "none" ||
		r.Pool != DefaultRedisPool || r.Timeout.D() != DefaultRedisTimeout || r.Prefix != DefaultRedisPrefix {
		t.Fatalf("redis: %+v", r)
	}
	if c.StickTables[0].SyncIntervalOr() != DefaultStickSync || c.StickTables[1].SyncIntervalOr() != 20*time.Millisecond {
		t.Fatalf("sync intervals %v %v", c.StickTables[0].SyncIntervalOr(), c.StickTables[1].SyncIntervalOr())
	}
}

func TestSharedErrors(t *testing.T) {
	for _, c := range []struct{ yml, want string }{
		{"shared: {redis: {address: nohost}}", "shared.redis.address: want host:port"},
		{"shared: {redis: {address: 'h:99999'}}", "shared.redis.address: invalid port"},
		{"shared: {redis: {address: 'h:1', db: -1}}", "shared.redis.db: must be 0 or more"},
		{"shared: {redis: {address: 'h:1', tls: {verify: maybe}}}", "shared.redis.tls.verify"},
		{"shared: {kv: {size: 1m, max_value: 2m}}", "shared.kv.max_value"},
		{"shared: {dicts: {d: {}}}", "shared.dicts.d.size: missing"},
		{"stick_tables: [{name: t, type: ip, size: 10, store: [gpc0], shared: redis}]", "stick_tables[0].shared: redis needs shared.redis"},
		{"stick_tables: [{name: t, type: ip, size: 10, store: [gpc0], shared: peers}]", "stick_tables[0].shared: want redis"},
		{"stick_tables: [{name: t, type: ip, size: 10, store: [gpc0], sync_interval: 1s}]", "stick_tables[0].sync_interval: only for a table with shared: redis"},
		{"shared: {redis: {adress: 'h:1'}}", "did you mean address"},
	} {
		_, err := Parse([]byte(c.yml+minimal), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.yml, err, c.want)
		}
	}
}
