package config

import (
	"fmt"
	"slices"
	"strings"
)

// StickRule is one of a backend's stick rules (HAProxy's stick on, stick
// match and stick store-request without a condition): exactly one of On,
// Match and StoreRequest names the request's key (StickKey), and Table
// the stick table (default: the backend's), which must store server_id.
// Rules with conditions, or keys of other fetches, are Lua actions that
// call txn:stick_match and txn:stick_store.
type StickRule struct {
	On           string `yaml:"on"`            // look the key up, and store it
	Match        string `yaml:"match"`         // look the key up
	StoreRequest string `yaml:"store_request"` // store the key
	Table        string `yaml:"table"`
}

// Key returns the rule's key and whether it looks it up and stores it.
func (r StickRule) Key() (key string, match, store bool) {
	switch {
	case r.On != "":
		return r.On, true, true
	case r.Match != "":
		return r.Match, true, false
	}
	return r.StoreRequest, false, true
}

// StickKey reads a stick rule's key: "src" (the client's address),
// "req.cook(NAME)" (the value of cookie NAME) or "req.hdr(NAME)" (the
// last value of header field NAME); name is NAME.
func StickKey(key string) (fetch, name string, err error) {
	if key == "src" {
		return key, "", nil
	}
	for _, f := range []string{"req.cook", "req.hdr"} {
		if arg, ok := strings.CutPrefix(key, f+"("); ok {
			if arg, ok = strings.CutSuffix(arg, ")"); ok && arg != "" && !strings.ContainsAny(arg, "(), ") {
				return f, arg, nil
			}
		}
	}
	return "", "", fmt.Errorf("want src, req.cook(NAME) or req.hdr(NAME), got %q", key)
}

// validateStick checks backend i's stick rules.
func (c *Config) validateStick(i int, b *Backend) []error {
	var errs []error
	for j, r := range b.Stick {
		at := fmt.Sprintf("backends[%d].stick[%d]", i, j)
		n := 0
		for _, k := range []string{r.On, r.Match, r.StoreRequest} {
			if k != "" {
				n++
			}
		}
		if n != 1 {
			errs = append(errs, fmt.Errorf("%s: want one of on, match and store_request", at))
			continue
		}
		key, _, _ := r.Key()
		if _, _, err := StickKey(key); err != nil {
			errs = append(errs, fmt.Errorf("%s: key: %v", at, err))
		}
		table := r.Table
		if table == "" {
			table = b.Name
		}
		t := c.stickTable(table)
		switch {
		case t == nil && r.Table == "":
			errs = append(errs, fmt.Errorf("%s: the backend has no stick_table (add one, or name another with table)", at))
		case t == nil:
			errs = append(errs, fmt.Errorf("%s.table: no frontend or backend %q with a stick_table, nor a stick_tables entry", at, table))
		case !slices.Contains(t.Store, "server_id"):
			errs = append(errs, fmt.Errorf("%s: stick table %s must store server_id (and server_key, the server's name)", at, table))
		}
	}
	return errs
}

// stickTable returns the stick table called name: a frontend's, a
// backend's, or a stick_tables entry; nil if none.
func (c *Config) stickTable(name string) *StickTable {
	for _, f := range c.Frontends {
		if f.Name == name && f.StickTable != nil {
			return f.StickTable
		}
	}
	for _, b := range c.Backends {
		if b.Name == name && b.StickTable != nil {
			return b.StickTable
		}
	}
	if i := c.tableIndex(name); i >= 0 {
		return &c.StickTables[i].StickTable
	}
	return nil
}
