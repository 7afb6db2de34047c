package kv_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/luaedge/luaedge/shared/kv"
	"github.com/luaedge/luaedge/shared/kv/redistest"
)

// The measurements behind the choice of Redis client (docs/architecture.md,
// "Redis"): the CPU this process spends per kv get, and the latency, on
// the path luaedge uses (go-redis on a goroutine per operation, the result
// posted back to the loop) and on the alternative, RESP spoken on the
// loop (one connection per loop, a turn's requests written in one write
// and their replies parsed as they come), played here by a minimal RESP
// client. redis-server's own CPU is another process's and not counted.
//
//	go test -run XXX -bench Redis -benchtime 20000x ./shared/kv/

// cpuNow returns the CPU time (user and system) the process has used.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuNow()-start)/float64(b.N), "cpu-ns/op")
}

// reportLatency reports the median and 99th percentile of lat.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRedisGoRedis: gets one at a time (latency), and with 64 in
// flight (CPU under load), each on a goroutine whose result comes back
// through a channel to one "loop" goroutine, as edge's Loop.Post does.
func BenchmarkRedisGoRedis(b *testing.B) {
	for _, inFlight := range []int{1, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inFlight), func(b *testing.B) {
			srv := redistest.Start(b)
			r := kv.NewRedis(kv.RedisConfig{Address: srv.Addr, Pool: 10, Timeout: time.Second, Prefix: "bench:"})
			defer r.Close()
			ctx := context.Background()
			r.Do(ctx, kv.Op{Code: kv.OpSet, Key: "key", Value: "value"})
			posted := make(chan time.Duration, inFlight)
			lat := make([]time.Duration, 0, b.N)
			start := cpuNow()
			b.ResetTimer()
			issue := func() {
				t0 := time.Now()
				go func() {
					if res := r.Do(ctx, kv.Op{Code: kv.OpGet, Key: "key"}); res.Err != nil || res.Value != "value" {
						panic(fmt.Sprint(res))
					}
					posted <- time.Since(t0)
				}()
			}
			sent := 0
			for ; sent < inFlight && sent < b.N; sent++ {
				issue()
			}
			for done := 0; done < b.N; done++ {
				lat = append(lat, <-posted)
				if sent < b.N {
					issue()
					sent++
				}
			}
			b.StopTimer()
			reportCPU(b, start)
			reportLatency(b, lat)
		})
	}
}

// BenchmarkRedisRESPOnLoop: the same gets in batches of 1 and 64 on one
// connection, written together and read back in order, on one goroutine.
func BenchmarkRedisRESPOnLoop(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			srv := redistest.Start(b)
			c, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			rd := bufio.NewReader(c)
			cmd := func(args ...string) []byte {
				out := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
				for _, a := range args {
					out = append(out, "$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"...)
				}
				return out
			}
			if _, err := c.Write(cmd("SET", "bench:kv:key", "value")); err != nil {
				b.Fatal(err)
			}
			if line, _ := rd.ReadString('\n'); line != "+OK\r\n" {
				b.Fatalf("SET: %q", line)
			}
			get := cmd("GET", "bench:kv:key")
			var out []byte
			lat := make([]time.Duration, 0, b.N)
			start := cpuNow()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(batch, b.N-done)
				out = out[:0]
				for range n {
					out = append(out, get...)
				}
				t0 := time.Now()
				if _, err := c.Write(out); err != nil {
					b.Fatal(err)
				}
				for range n {
					// A bulk string: "$5\r\nvalue\r\n".
					line, err := rd.ReadSlice('\n')
					if err != nil || len(line) < 4 || line[0] != '$' {
						b.Fatalf("reply %q: %v", line, err)
					}
					size, _ := strconv.Atoi(string(line[1 : len(line)-2]))
					if _, err := rd.Discard(size + 2); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
				done += n
			}
			b.StopTimer()
			reportCPU(b, start)
			reportLatency(b, lat)
		})
	}
}
