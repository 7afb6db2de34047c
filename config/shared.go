package config

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Shared configures the state scripts share beyond their core: core.kv,
// core.bus and core.artifacts, and ngx.shared's dictionaries. Without
// redis everything is in the process (embedded), shared by every loop;
// with it, core.kv and core.bus are in Redis, shared by every process
// using it, and so are the artifacts unless artifacts.dir is set.
type Shared struct {
	KV SharedKV `yaml:"kv"`
	// Dicts are ngx.shared's dictionaries, by name; always embedded.
	Dicts     map[string]Dict `yaml:"dicts"`
	Artifacts Artifacts       `yaml:"artifacts"`
	// Redis puts core.kv, core.bus (and the artifacts, without dir) in a
	// Redis server, and lets stick tables with shared: redis share their
	// counters there; nil: embedded.
	Redis *Redis `yaml:"redis"`
}

// SharedKV sizes the embedded core.kv store.
type SharedKV struct {
	// Size is the most bytes of keys and values (and 96 per entry) it
	// holds; past it, writes evict the least recently used keys.
	Size Size `yaml:"size"`
	// MaxValue bounds one key and value together; default 1 MiB, or a
	// quarter of Size if that is less.
	MaxValue Size `yaml:"max_value"`
}

// Dict is one ngx.shared dictionary.
type Dict struct {
	Size Size `yaml:"size"`
}

// Artifacts says where core.artifacts keeps them.
type Artifacts struct {
	// Dir keeps them as files under this folder (relative: from Dir),
	// whatever the backend of core.kv.
	Dir string `yaml:"dir"`
	// Size bounds what the embedded store of artifacts holds (no dir, no
	// redis).
	Size Size `yaml:"size"`
	// MaxSize bounds one artifact, in every backend; default 16 MiB, or a
	// quarter of Size if that is less.
	MaxSize Size `yaml:"max_size"`
}

// Redis is how to reach the Redis server.
type Redis struct {
	Address  string `yaml:"address"` // host:port
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	DB       int    `yaml:"db"`
	// TLS makes the connections speak TLS (as a backend's tls); nil:
	// clear text.
	TLS *ServerTLS `yaml:"tls"`
	// Pool is the most connections open for operations (the bus takes
	// one more).
	Pool int `yaml:"pool"`
	// Timeout bounds each operation, and so a script's wait for it.
	Timeout Duration `yaml:"timeout"`
	// Prefix starts every key and channel luaedge uses in Redis.
	Prefix string `yaml:"prefix"`
}

// Defaults of the shared block.
const (
	DefaultKVSize          = 64 << 20
	DefaultKVMaxValue      = 1 << 20
	DefaultArtifactsSize   = 64 << 20
	DefaultArtifactMaxSize = 16 << 20
	DefaultRedisPool       = 10
	DefaultRedisTimeout    = time.Second
	DefaultRedisPrefix     = "luaedge:"
	// DefaultStickSync is how often a stick table with shared: redis
	// exchanges its counters with Redis.
	DefaultStickSync = 100 * time.Millisecond
)

func (s *Shared) setDefaults(c *Config) {
	*s = s.OrDefaults()
	s.Artifacts.Dir = c.path(s.Artifacts.Dir)
	if r := s.Redis; r != nil {
		c.serverTLSDefaults(r.TLS)
	}
}

// OrDefaults returns s with the defaults of the sizes and of redis's keys
// left out (as Parse sets them), for a Config made by other means.
func (s Shared) OrDefaults() Shared {
	setDefault(&s.KV.Size, DefaultKVSize)
	setDefault(&s.KV.MaxValue, min(DefaultKVMaxValue, s.KV.Size/4))
	setDefault(&s.Artifacts.Size, DefaultArtifactsSize)
	setDefault(&s.Artifacts.MaxSize, min(DefaultArtifactMaxSize, s.Artifacts.Size/4))
	if s.Redis != nil {
		r := *s.Redis
		setDefault(&r.Pool, DefaultRedisPool)
		setDefault(&r.Timeout, Duration(DefaultRedisTimeout))
		setDefault(&r.Prefix, DefaultRedisPrefix)
		s.Redis = &r
	}
	return s
}

// validate checks the shared block; the stores' own limits (a value that
// must fit in the store) are checked when they are made.
func (s *Shared) validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s.KV.MaxValue > s.KV.Size {
		bad("shared.kv.max_value: %d is more than shared.kv.size, %d", s.KV.MaxValue, s.KV.Size)
	}
	if s.Artifacts.MaxSize > s.Artifacts.Size && s.Artifacts.Dir == "" && s.Redis == nil {
		bad("shared.artifacts.max_size: %d is more than shared.artifacts.size, %d", s.Artifacts.MaxSize, s.Artifacts.Size)
	}
	for name, d := range s.Dicts {
		if name == "" {
			bad("shared.dicts: a dictionary needs a name")
		}
		if d.Size <= 0 {
			bad("shared.dicts.%s.size: missing (e.g. 10MiB)", name)
		}
	}
	if r := s.Redis; r != nil {
		if _, port, err := net.SplitHostPort(r.Address); err != nil || port == "" {
			bad("shared.redis.address: want host:port, got %q", r.Address)
		} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			bad("shared.redis.address: invalid port in %q", r.Address)
		}
		if r.DB < 0 {
			bad("shared.redis.db: must be 0 or more, got %d", r.DB)
		}
		if r.Pool < 0 {
			bad("shared.redis.pool: must be 1 or more, got %d", r.Pool)
		}
		if r.Timeout <= 0 {
			bad("shared.redis.timeout: must be positive")
		}
		if err := r.TLS.validate("shared.redis.tls"); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// validateShared checks a stick table's shared and sync_interval (at is
// its key path).
func (t *StickTable) validateShared(at string, c *Config) error {
	switch t.Shared {
	case "":
		if t.SyncInterval != 0 {
			return fmt.Errorf("%s.sync_interval: only for a table with shared: redis", at)
		}
	case "redis":
		if c.Shared.Redis == nil {
			return fmt.Errorf("%s.shared: redis needs shared.redis (the server to share through)", at)
		}
		if t.SyncInterval < 0 {
			return fmt.Errorf("%s.sync_interval: must be positive", at)
		}
	default:
		return fmt.Errorf("%s.shared: want redis, got %q", at, t.Shared)
	}
	return nil
}

// SyncIntervalOr returns how often a shared table exchanges its counters.
func (t *StickTable) SyncIntervalOr() time.Duration {
	if t.SyncInterval == 0 {
		return DefaultStickSync
	}
	return t.SyncInterval.D()
}

// validateSharedTables checks shared and sync_interval of every stick
// table.
func (c *Config) validateSharedTables() []error {
	var errs []error
	check := func(t *StickTable, at string) {
		if t != nil {
			if err := t.validateShared(at, c); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i := range c.Frontends {
		check(c.Frontends[i].StickTable, fmt.Sprintf("frontends[%d].stick_table", i))
	}
	for i := range c.Backends {
		check(c.Backends[i].StickTable, fmt.Sprintf("backends[%d].stick_table", i))
	}
	for i := range c.StickTables {
		check(&c.StickTables[i].StickTable, fmt.Sprintf("stick_tables[%d]", i))
	}
	return errs
}
