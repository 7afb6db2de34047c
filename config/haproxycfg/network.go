package haproxycfg

import (
	"strconv"

	"github.com/luaedge/luaedge/config"
)

// The network-side keywords: maxconn (global and per frontend), bind ...
// accept-proxy, compression and tune.comp.maxlevel. Servers' send-proxy
// and send-proxy-v2 are read with their other options.

// networkGlobal reads a global line it knows; ok is false for the others.
func (f *file) networkGlobal(at pos, w []string) (ok bool, err error) {
	switch w[0] {
	case "maxconn":
		f.global.MaxConn, err = count(at, w)
	case "tune.comp.maxlevel":
		f.compLevel, err = count(at, w)
		if err == nil && (f.compLevel < 1 || f.compLevel > 9) {
			err = at.errorf("tune.comp.maxlevel: luaedge compresses at levels 1 to 9, got %d", f.compLevel)
		}
	default:
		return false, nil
	}
	return true, err
}

// networkProxy reads a line of a proxy section it knows; ok is false for
// the others.
func (f *file) networkProxy(p *proxy, at pos, w []string) (ok bool, err error) {
	switch w[0] {
	case "maxconn":
		if p.kind == "backend" {
			f.warn(at, "'maxconn' in a backend has no effect (in HAProxy either): set it on the servers")
			return true, nil
		}
		p.maxconn, err = count(at, w)
	case "compression":
		err = f.compression(p, at, w)
	default:
		return false, nil
	}
	return true, err
}

// count reads a keyword's one number.
func count(at pos, w []string) (int, error) {
	if len(w) != 2 {
		return 0, at.errorf("%s: want a number", w[0])
	}
	n, err := strconv.Atoi(w[1])
	if err != nil || n < 0 {
		return 0, at.errorf("%s: want a number, got '%s'", w[0], w[1])
	}
	return n, nil
}

// compression reads "compression algo ...", "compression type ..." and
// "compression offload" into p's compression, copied first: a section's
// own lines must not change the defaults section it inherited it from.
func (f *file) compression(p *proxy, at pos, w []string) error {
	if len(w) < 2 {
		return at.errorf("compression: want algo, type or offload")
	}
	c := &config.Compression{}
	if p.compression != nil {
		*c = *p.compression
	}
	switch w[1] {
	case "algo":
		c.Algorithms = nil
		for _, a := range w[2:] {
			switch a {
			case "gzip", "deflate":
				c.Algorithms = append(c.Algorithms, a)
			case "identity":
			case "br":
				// HAProxy 2.6 has no brotli: a file that says br is
				// not one HAProxy runs.
				return at.errorf("compression algo br: HAProxy 2.6 has no brotli; set it in luaedge's YAML (compression.algorithms)")
			default:
				return at.errorf("compression algo %s: luaedge compresses with gzip and deflate", a)
			}
		}
	case "type":
		c.Types = append([]string(nil), w[2:]...)
	case "offload":
		f.warn(at, "'compression offload' is not supported by luaedge: the servers keep the request's Accept-Encoding (and luaedge leaves alone what they compress)")
	default:
		return at.errorf("compression %s: want algo, type or offload", w[1])
	}
	p.compression = c
	return nil
}

// withoutAcceptProxy takes accept-proxy out of a bind line's options.
func withoutAcceptProxy(opts []string) (rest []string, accept bool) {
	for _, o := range opts {
		if o == "accept-proxy" {
			accept = true
			continue
		}
		rest = append(rest, o)
	}
	return rest, accept
}

// networkFrontend sets a frontend's network keys from p.
func (f *file) networkFrontend(fe *config.Frontend, p *proxy) {
	fe.AcceptProxy = p.acceptProxy
	fe.MaxConn = p.maxconn
	fe.Compression = f.levelled(p.compression)
}

// networkBackend sets a backend's network keys from p.
func (f *file) networkBackend(b *config.Backend, p *proxy) {
	b.Timeouts.Queue = p.timeouts["queue"]
	if p.kind == "backend" {
		b.Compression = f.levelled(p.compression) // a listen's is its frontend's
	}
}

// levelled is c at the global tune.comp.maxlevel (HAProxy's default, 1,
// is luaedge's).
func (f *file) levelled(c *config.Compression) *config.Compression {
	if c == nil {
		return nil
	}
	out := *c
	out.Level = f.compLevel
	return &out
}
