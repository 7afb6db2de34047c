// Command wsload is the WebSocket load client of the benchmark
// (bench/run.sh): it measures an echo service's message rate, or holds
// idle connections open for a memory reading.
//
//	wsload -url ws://127.0.0.1:8080/ -c 50 -d 4s -size 32
//	    c connections each send a text message of size bytes and wait for
//	    its echo, over and over, for d; prints the messages echoed.
//	wsload -url ws://127.0.0.1:8080/ -idle 10000
//	    opens that many connections, prints "open N" once they are all
//	    established, and holds them until its standard input closes.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	url := flag.String("url", "", "the echo service's ws:// URL")
	conns := flag.Int("c", 50, "connections (echo)")
	dur := flag.Duration("d", 4*time.Second, "run time (echo)")
	size := flag.Int("size", 32, "message size in bytes (echo)")
	idle := flag.Int("idle", 0, "open this many idle connections and hold them")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "wsload: -url is required")
		os.Exit(2)
	}
	if *idle > 0 {
		holdIdle(*url, *idle)
		return
	}
	echo(*url, *conns, *dur, *size)
}

// dialer opens connections without compression, with small buffers: the
// bench compares servers, not clients.
var dialer = websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}

// echo runs the message-rate test and prints "messages: N in S s, R msgs/s,
// E errors".
func echo(url string, conns int, dur time.Duration, size int) {
	msg := bytes.Repeat([]byte("x"), size)
	var done, errs atomic.Int64
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := dialer.Dial(url, nil)
			if err != nil {
				errs.Add(1)
				return
			}
			defer c.Close()
			for time.Now().Before(stop) {
				if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
					errs.Add(1)
					return
				}
				_, got, err := c.ReadMessage()
				if err != nil || !bytes.Equal(got, msg) {
					errs.Add(1)
					return
				}
				done.Add(1)
			}
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	fmt.Printf("messages: %d in %.2f s, %.1f msgs/s, %d errors\n", done.Load(), secs, float64(done.Load())/secs, errs.Load())
}

// holdIdle opens n connections, reports them open, and waits for its
// standard input to close.
func holdIdle(url string, n int) {
	held := make([]*websocket.Conn, 0, n)
	for len(held) < n {
		c, _, err := dialer.Dial(url, nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "wsload: connection %d: %v\n", len(held)+1, err)
			os.Exit(1)
		}
		held = append(held, c)
	}
	fmt.Printf("open %d\n", len(held))
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range held {
		c.Close()
	}
}
