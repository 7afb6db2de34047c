package config

import (
	"fmt"
	"strings"
)

// Compression is how a frontend or backend compresses its responses
// (HAProxy's compression algo and type, nginx's gzip_* directives): a
// response is compressed when the client accepts one of Algorithms, its
// Content-Type is one of Types, and its length, when known, is at least
// MinLength (see docs/config.md for the rest of the rules).
type Compression struct {
	// Algorithms are the codings offered, in order of preference: gzip,
	// deflate (zlib, as HTTP's deflate is), br (brotli, which wins a
	// tie of weights wherever it is listed). Default: [gzip].
	Algorithms []string `yaml:"algorithms"`
	// Types are media types ("text/html"), or whole types ("text/*").
	// Default: DefaultCompressTypes.
	Types []string `yaml:"types"`
	// MinLength: a response whose content-length is below it is sent as
	// is. Default 256 bytes.
	MinLength Size `yaml:"min_length"`
	// Level is gzip's and deflate's: 1 (fastest, the default, as
	// HAProxy's and nginx's) to 9 (smallest).
	Level int `yaml:"level"`
	// BrotliQuality is br's: 1 (fastest) to 9 (smallest), default 4.
	BrotliQuality int `yaml:"brotli_quality"`
}

// The defaults of compression's keys.
var DefaultCompressTypes = []string{"text/html", "text/plain", "text/css", "text/xml", "text/javascript",
	"application/javascript", "application/json", "application/xml", "image/svg+xml"}

const (
	DefaultCompressMinLength = 256
	DefaultCompressLevel     = 1
	// DefaultBrotliQuality: on text, brotli at quality 4 gives bodies a
	// fifth smaller than gzip's level 1, for five to six times its CPU
	// (docs/config.md has the measurement); 5 costs half as much again
	// for 6 % less.
	DefaultBrotliQuality = 4
)

func (c *Compression) setDefaults() {
	if c == nil {
		return
	}
	if c.Algorithms == nil {
		c.Algorithms = []string{"gzip"}
	}
	if c.Types == nil {
		c.Types = append([]string(nil), DefaultCompressTypes...)
	}
	setDefault(&c.MinLength, DefaultCompressMinLength)
	setDefault(&c.Level, DefaultCompressLevel)
	setDefault(&c.BrotliQuality, DefaultBrotliQuality)
}

func (c *Compression) validate(at string) []error {
	if c == nil {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(c.Algorithms) == 0 {
		bad("%s.algorithms: at least one of gzip, deflate, br", at)
	}
	for i, a := range c.Algorithms {
		if a != "gzip" && a != "deflate" && a != "br" {
			bad("%s.algorithms[%d]: want gzip, deflate or br, got %q", at, i, a)
		}
	}
	for i, t := range c.Types {
		if top, sub, ok := strings.Cut(t, "/"); !ok || top == "" || sub == "" || t != strings.ToLower(t) || strings.ContainsAny(t, " ;,") {
			bad("%s.types[%d]: want a media type in lower case (text/html) or a whole type (text/*), got %q", at, i, t)
		}
	}
	if c.Level < 1 || c.Level > 9 {
		bad("%s.level: want 1 (fastest) to 9 (smallest), got %d", at, c.Level)
	}
	// Brotli's 0 compresses worse than gzip's level 1 (and 0 is the
	// key left unset); 10 and 11 cost tens of times the CPU of 9, too
	// much for a body compressed as it is sent.
	if c.BrotliQuality < 1 || c.BrotliQuality > 9 {
		bad("%s.brotli_quality: want 1 (fastest) to 9 (smallest), got %d", at, c.BrotliQuality)
	}
	return errs
}

// validateNetwork checks the keys of the network-side features: maxconn,
// the PROXY protocol, compression.
func (c *Config) validateNetwork() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.MaxConn < 0 {
		bad("maxconn: must be 0 (no bound) or more, got %d", c.MaxConn)
	}
	for i, f := range c.Frontends {
		if f.MaxConn < 0 {
			bad("frontends[%d].maxconn: must be 0 (no bound) or more, got %d", i, f.MaxConn)
		}
		if f.Compression != nil && f.Mode != "http" {
			bad("frontends[%d].compression: compressing responses needs mode: http", i)
		}
		errs = append(errs, f.Compression.validate(fmt.Sprintf("frontends[%d].compression", i))...)
	}
	for i, b := range c.Backends {
		sendProxy := func(at, v string, server bool) {
			switch v {
			case "", "v1", "v2":
			case "none":
				if !server {
					bad("%s.send_proxy: want v1 or v2, got %q (none is for a server of a backend that sends one)", at, v)
				}
				return
			default:
				bad("%s.send_proxy: want v1 or v2, got %q", at, v)
				return
			}
			if v != "" && b.Proto == "h2" {
				bad("%s.send_proxy: a proto: h2 backend carries many clients' requests on one connection, which a PROXY header cannot name", at)
			}
		}
		sendProxy(fmt.Sprintf("backends[%d]", i), b.SendProxy, false)
		errs = append(errs, b.Compression.validate(fmt.Sprintf("backends[%d].compression", i))...)
		for j, sv := range b.Servers {
			sendProxy(fmt.Sprintf("backends[%d].servers[%d]", i, j), sv.SendProxy, true)
		}
	}
	return errs
}
