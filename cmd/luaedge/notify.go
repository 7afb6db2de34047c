package main

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// notifier tells systemd the service's state (sd_notify(3)): one
// datagram to the unix socket in $NOTIFY_SOCKET, which systemd sets for a
// Type=notify service (packaging/luaedge.service). Without it notifying
// does nothing. A name starting with "@" is in the abstract namespace, as
// Go's net package reads it.
type notifier struct {
	addr string
}

func newNotifier() *notifier { return &notifier{addr: os.Getenv("NOTIFY_SOCKET")} }

// send writes one notification; systemd reads "KEY=VALUE" lines.
func (n *notifier) send(state string) error {
	if n.addr == "" {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.addr, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// ready says the generation serves: after the start, and after each
// reload (failed or not: the serving generation is ready either way).
func (n *notifier) ready(gen int) error {
	return n.send(fmt.Sprintf("READY=1\nSTATUS=serving (generation %d)\nMAINPID=%d", gen, os.Getpid()))
}

// reloading says a reload started; systemd wants the monotonic clock's
// time with it, to pair it with the READY=1 that ends it.
func (n *notifier) reloading() error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return err
	}
	return n.send("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" + strconv.FormatInt(ts.Nano()/1000, 10))
}

func (n *notifier) stopping() error { return n.send("STOPPING=1\nSTATUS=stopping") }
