package kv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig is how to reach a Redis server (shared.redis).
type RedisConfig struct {
	Address  string // host:port
	Username string // ACL user; "" for the default user
	Password string
	DB       int
	TLS      *tls.Config // nil: clear text
	// Pool is the most connections kept open (and open at once) for
	// operations; the bus takes one more.
	Pool int
	// Timeout bounds each operation: connecting, writing and waiting for
	// the answer.
	Timeout time.Duration
	// Prefix starts every key and channel luaedge uses: "luaedge:" by
	// default (see the layout in Redis's doc comment).
	Prefix string
	// MaxArtifact is the largest artifact written (0: no limit).
	MaxArtifact int64
}

// MaxInFlight bounds the operations a Redis has started and not finished:
// past it an operation fails at once ("too many operations waiting")
// instead of adding a goroutine waiting for a connection of the pool.
const MaxInFlight = 1024

// Redis performs the kv, bus and artifact operations on a Redis server,
// through go-redis's pooled client, and keeps the stick tables' shared
// counters there. Its methods block: callers run them on goroutines of
// their own. Keys, under Prefix:
//
//	PREFIX kv: KEY               core.kv's keys (strings)
//	PREFIX artifact: NAME        core.artifacts' artifacts (strings)
//	PREFIX bus: NAME             core.bus's pub/sub channels
//	PREFIX stick: TABLE : KEY    a shared stick table's entries (hashes)
//
// When Redis cannot be reached an operation fails within Timeout, with an
// error naming the address; once PoolSize connections in a row failed to
// open, operations fail at once (go-redis tries a connection every
// second in the background) until one opens again.
type Redis struct {
	c *redis.Client
	// ap batches the simple commands (GET, SET, DEL, EXISTS, PUBLISH) of
	// the operations in flight into pipelines on one connection: under
	// load it takes a fifth of the CPU per command of one round trip each
	// (docs/architecture.md, "Redis").
	ap      *redis.AutoPipeliner
	addr    string
	prefix  string
	timeout time.Duration
	maxArt  int64
	slots   chan struct{} // MaxInFlight tokens
}

// NewRedis makes a client; it connects on its first operation.
func NewRedis(cfg RedisConfig) *Redis {
	pool := cfg.Pool
	if pool <= 0 {
		pool = 10
	}
	c := redis.NewClient(&redis.Options{
		Addr:      cfg.Address,
		Username:  cfg.Username,
		Password:  cfg.Password,
		DB:        cfg.DB,
		TLSConfig: cfg.TLS,
		PoolSize:  pool,
		// One try per connection and per command: a server that is down
		// is reported within the timeout, not after go-redis's default
		// five dial attempts and three retries with backoff, and an INCR
		// whose answer was lost is not sent twice.
		DialerRetries:         1,
		MaxRetries:            -1,
		DialTimeout:           cfg.Timeout,
		ReadTimeout:           cfg.Timeout,
		WriteTimeout:          cfg.Timeout,
		PoolTimeout:           cfg.Timeout,
		ContextTimeoutEnabled: true,
		// No CLIENT SETINFO on every new connection (servers before 7.2
		// answer it with an error).
		DisableIdentity: true,
	})
	r := &Redis{c: c, addr: cfg.Address, prefix: cfg.Prefix, timeout: cfg.Timeout, maxArt: cfg.MaxArtifact, slots: make(chan struct{}, MaxInFlight)}
	// The blocking face: a command waits for its batch. A queued command
	// does not heed its context; the connection's read timeout bounds it,
	// and the caller's own timer answers the script.
	ap, err := c.AutoPipeline()
	if err != nil {
		panic("kv: go-redis's default autopipelining options refused: " + err.Error())
	}
	r.ap = ap
	return r
}

// Timeout returns the bound of each operation.
func (r *Redis) Timeout() time.Duration { return r.timeout }

// Address returns the server's address, for messages.
func (r *Redis) Address() string { return r.addr }

// Close closes the connections; operations after it fail.
func (r *Redis) Close() error { return r.c.Close() }

func (r *Redis) kvKey(k string) string   { return r.prefix + "kv:" + k }
func (r *Redis) artKey(n string) string  { return r.prefix + "artifact:" + n }
func (r *Redis) channel(n string) string { return r.prefix + "bus:" + n }

// fail wraps an error of the server or the connection with the address.
func (r *Redis) fail(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("redis %s: no answer within %v", r.addr, r.timeout)
	}
	return fmt.Errorf("redis %s: %w", r.addr, err)
}

var errTooMany = errors.New("too many operations waiting")

// Do performs op (any OpCode). An absent key is not an error: Found is
// false; ArtDelete and ArtRename of an absent artifact are ErrNotFound,
// Incr of a key holding something else than a number ErrNotNumber.
func (r *Redis) Do(ctx context.Context, op Op) Result {
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	default:
		return Result{Err: fmt.Errorf("redis %s: %w", r.addr, errTooMany)}
	}
	res := r.do(ctx, op)
	if res.Err != nil && !errors.Is(res.Err, ErrNotFound) && !errors.Is(res.Err, ErrNotNumber) && !errors.Is(res.Err, ErrTooLarge) && !errors.Is(res.Err, ErrBadName) {
		res.Err = r.fail(res.Err)
	}
	return res
}

func (r *Redis) do(ctx context.Context, op Op) Result {
	if op.Code.Artifact() && op.Code != OpArtList { // a list takes any prefix
		if err := CheckArtifactName(op.Key); err != nil {
			return Result{Err: err}
		}
	}
	switch op.Code {
	case OpGet:
		return r.get(ctx, r.kvKey(op.Key))
	case OpSet:
		return Result{Err: r.ap.Set(ctx, r.kvKey(op.Key), op.Value, ttlOf(op.TTL)).Err()}
	case OpDelete:
		return Result{Err: r.ap.Del(ctx, r.kvKey(op.Key)).Err()}
	case OpList:
		keys, err := r.scan(ctx, r.kvKey(""), op.Key)
		return Result{Keys: keys, Err: err}
	case OpIncr:
		return r.incr(ctx, op)
	case OpEmit:
		return Result{Err: r.ap.Publish(ctx, r.channel(op.Key), op.Value).Err()}
	case OpArtWrite:
		if r.maxArt > 0 && int64(len(op.Value)) > r.maxArt {
			return Result{Err: ErrTooLarge}
		}
		return Result{Err: r.ap.Set(ctx, r.artKey(op.Key), op.Value, 0).Err()}
	case OpArtRead:
		return r.get(ctx, r.artKey(op.Key))
	case OpArtExists:
		n, err := r.ap.Exists(ctx, r.artKey(op.Key)).Result()
		return Result{Found: n > 0, Err: err}
	case OpArtDelete:
		n, err := r.ap.Del(ctx, r.artKey(op.Key)).Result()
		if err == nil && n == 0 {
			err = ErrNotFound
		}
		return Result{Err: err}
	case OpArtRename:
		if err := CheckArtifactName(op.Value); err != nil {
			return Result{Err: err}
		}
		err := r.c.Rename(ctx, r.artKey(op.Key), r.artKey(op.Value)).Err()
		if err != nil && strings.Contains(err.Error(), "no such key") {
			err = ErrNotFound
		}
		return Result{Err: err}
	case OpArtList:
		keys, err := r.scan(ctx, r.artKey(""), op.Key)
		return Result{Keys: keys, Err: err}
	}
	return Result{Err: fmt.Errorf("unknown operation %d", op.Code)}
}

// ttlOf is a TTL as go-redis takes it: 0 for none, else at least a
// millisecond (SET ... PX).
func ttlOf(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	return max(ttl, time.Millisecond)
}

func (r *Redis) get(ctx context.Context, key string) Result {
	v, err := r.ap.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return Result{}
	}
	if err != nil {
		return Result{Err: err}
	}
	return Result{Found: true, Value: v}
}

// incr creates the key at Init (with its TTL) if it is absent, then adds
// Delta, in one transaction.
func (r *Redis) incr(ctx context.Context, op Op) Result {
	key := r.kvKey(op.Key)
	var n *redis.FloatCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, key, FormatNumber(op.Init), ttlOf(op.TTL))
		n = p.IncrByFloat(ctx, key, op.Delta)
		return nil
	})
	if err != nil {
		if strings.Contains(err.Error(), "not a valid float") {
			return Result{Err: ErrNotNumber}
		}
		return Result{Err: err}
	}
	return Result{Num: n.Val()}
}

// globEscape quotes the characters SCAN's MATCH treats as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// scan lists the keys under base+prefix, without base, sorted, at most
// MaxList of them.
func (r *Redis) scan(ctx context.Context, base, prefix string) ([]string, error) {
	match := globEscape(base+prefix) + "*"
	var keys []string
	var cursor uint64
	for {
		page, next, err := r.c.Scan(ctx, cursor, match, 1000).Result()
		if err != nil {
			return nil, err
		}
		for _, k := range page {
			keys = append(keys, strings.TrimPrefix(k, base))
		}
		cursor = next
		if cursor == 0 || len(keys) >= MaxList {
			break
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys) // SCAN may return a key twice
	if len(keys) > MaxList {
		keys = keys[:MaxList]
	}
	return keys, nil
}

// Subscribe delivers every event published on the bus (by any process
// using this server and prefix) to deliver, on a goroutine of its own,
// until stop is called. It listens with one PSUBSCRIBE connection, which
// go-redis reopens and subscribes again after a failure; events published
// while it is down are lost (pub/sub keeps nothing).
func (r *Redis) Subscribe(deliver func(name, data string), log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		base := r.channel("")
		ps := r.c.PSubscribe(ctx)
		defer ps.Close()
		// The pattern is kept even when this first subscription fails
		// (Redis down): the channel's receiver connects and subscribes
		// again until it works.
		if err := ps.PSubscribe(ctx, globEscape(base)+"*"); err != nil {
			log.Warn("redis: subscribing to the bus failed; retrying in the background", "address", r.addr, "err", err)
		}
		ch := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				deliver(strings.TrimPrefix(m.Channel, base), m.Payload)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// Field is a hash field and a number.
type Field struct {
	Name string
	N    int64
}

// HashUpdate is one hash's part of SyncHashes: fields to set, then to add
// to, to delete, then to read back.
type HashUpdate struct {
	Key      string
	Set, Add []Field
	Del, Get []string
}

// syncScript applies HashUpdates (see SyncHashes for ARGV) and returns
// the fields read, per key.
var syncScript = redis.NewScript(`
local ttl = tonumber(ARGV[1])
local i = 2
local out = {}
for k = 1, #KEYS do
	local key = KEYS[k]
	local n = tonumber(ARGV[i]); i = i + 1
	for j = 1, n do redis.call('HSET', key, ARGV[i], ARGV[i + 1]); i = i + 2 end
	n = tonumber(ARGV[i]); i = i + 1
	for j = 1, n do redis.call('HINCRBY', key, ARGV[i], ARGV[i + 1]); i = i + 2 end
	n = tonumber(ARGV[i]); i = i + 1
	for j = 1, n do redis.call('HDEL', key, ARGV[i]); i = i + 1 end
	n = tonumber(ARGV[i]); i = i + 1
	local fields = {}
	for j = 1, n do fields[j] = ARGV[i]; i = i + 1 end
	if ttl > 0 and redis.call('EXISTS', key) == 1 then redis.call('PEXPIRE', key, ttl) end
	if n > 0 then out[k] = redis.call('HMGET', key, unpack(fields)) else out[k] = {} end
end
return out
`)

// syncBatch bounds the hashes one script run updates: Redis runs a script
// alone, and other clients wait for it.
const syncBatch = 500

// SyncHashes applies ups to the hashes PREFIX stick: TABLE : KEY of a
// shared stick table, each script run updating up to syncBatch of them
// atomically, gives each hash ttl (0: none), and returns, for each
// update, the values of its Get fields (0 for an absent one).
func (r *Redis) SyncHashes(ctx context.Context, table string, ttl time.Duration, ups []HashUpdate) ([][]int64, error) {
	out := make([][]int64, 0, len(ups))
	for start := 0; start < len(ups); start += syncBatch {
		batch := ups[start:min(start+syncBatch, len(ups))]
		keys := make([]string, len(batch))
		args := []any{ttl.Milliseconds()}
		for i, u := range batch {
			keys[i] = r.prefix + "stick:" + table + ":" + u.Key
			args = append(args, len(u.Set))
			for _, f := range u.Set {
				args = append(args, f.Name, f.N)
			}
			args = append(args, len(u.Add))
			for _, f := range u.Add {
				args = append(args, f.Name, f.N)
			}
			args = append(args, len(u.Del))
			for _, n := range u.Del {
				args = append(args, n)
			}
			args = append(args, len(u.Get))
			for _, n := range u.Get {
				args = append(args, n)
			}
		}
		res, err := syncScript.Run(ctx, r.c, keys, args...).Slice()
		if err != nil {
			return nil, r.fail(err)
		}
		for _, row := range res {
			vals, _ := row.([]any)
			nums := make([]int64, len(vals))
			for j, v := range vals {
				if s, ok := v.(string); ok {
					nums[j], _ = strconv.ParseInt(s, 10, 64)
				}
			}
			out = append(out, nums)
		}
	}
	return out, nil
}
