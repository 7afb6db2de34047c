package haproxycfg

import (
	"fmt"
	"sort"
	"strings"
)

// userlist is a userlist section: its users with their password (clear,
// or a crypt(3) hash) and the groups each belongs to.
type userlist struct {
	at     pos
	users  map[string]*ulUser
	groups map[string]bool
	order  []string // the users, in the section's order
}

type ulUser struct {
	pass   string
	hashed bool
	groups map[string]bool
}

// cryptPrefixes are the crypt(3) hashes luaedge checks (core.crypt_check).
var cryptPrefixes = []string{"$1$", "$5$", "$6$"}

// userlistLine reads a line of userlist section ul: group NAME [users
// A,B...] or user NAME [password HASH | insecure-password PASS] [groups
// A,B...].
func (f *file) userlistLine(ul *userlist, at pos, w []string) error {
	list := func(s string) []string {
		var out []string
		for _, v := range strings.Split(s, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	user := func(name string) *ulUser {
		u := ul.users[name]
		if u == nil {
			u = &ulUser{groups: map[string]bool{}}
			ul.users[name] = u
		}
		return u
	}
	switch w[0] {
	case "group":
		if len(w) != 2 && !(len(w) == 4 && w[2] == "users") {
			return at.errorf("group: want a name, optionally followed by users A,B...")
		}
		ul.groups[w[1]] = true
		if len(w) == 4 {
			for _, name := range list(w[3]) {
				user(name).groups[w[1]] = true
			}
		}
	case "user":
		if len(w) < 2 {
			return at.errorf("user: a name is needed")
		}
		if u := ul.users[w[1]]; u != nil && (u.pass != "" || u.hashed) {
			return at.errorf("user '%s' is already defined in this userlist", w[1])
		}
		u := user(w[1])
		ul.order = append(ul.order, w[1])
		for i := 2; i < len(w); i += 2 {
			if i+1 >= len(w) {
				return at.errorf("user %s: '%s' needs a value", w[1], w[i])
			}
			switch v := w[i+1]; w[i] {
			case "password":
				if !hasCryptPrefix(v) {
					return at.errorf("user %s: luaedge checks the crypt(3) hashes $1$ (MD5), $5$ (SHA-256) and $6$ (SHA-512), not '%s'", w[1], v)
				}
				u.pass, u.hashed = v, true
			case "insecure-password":
				u.pass, u.hashed = v, false
			case "groups":
				for _, g := range list(v) {
					u.groups[g] = true
				}
			default:
				return at.errorf("user %s: unknown option '%s' (want password, insecure-password or groups)", w[1], w[i])
			}
		}
	default:
		return at.unsupported(w[0] + " in a userlist section")
	}
	return nil
}

func hasCryptPrefix(v string) bool {
	for _, p := range cryptPrefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// check verifies, once the section is read, that every group a user
// names exists, as HAProxy does.
func (ul *userlist) check(name string) error {
	for _, un := range sortedKeys(ul.users) {
		for g := range ul.users[un].groups {
			if !ul.groups[g] {
				return ul.at.errorf("userlist %s: user '%s' is in group '%s', which the userlist does not declare", name, un, g)
			}
		}
	}
	return nil
}

// userlistRef returns the Lua value of userlist name for a fetch: a
// constant written once per userlist, with a start-up check that it
// exists.
func (g *gen) userlistRef(name string) string {
	if ref, ok := g.ulRefs[name]; ok {
		return ref
	}
	ul := g.userlists[name]
	if ul == nil {
		fmt.Fprintf(&g.checks, "error(%s, 0)\n", luaQuote("http_auth: no userlist named '"+name+"'"))
		g.ulRefs[name] = "nil"
		return "nil"
	}
	var b strings.Builder
	b.WriteString("{")
	for _, un := range ul.order {
		u := ul.users[un]
		groups := make([]string, 0, len(u.groups))
		for gn := range u.groups {
			groups = append(groups, luaQuote(gn))
		}
		sort.Strings(groups)
		fmt.Fprintf(&b, "[%s] = {pass = %s, hashed = %v, groups = {%s}}, ", luaQuote(un), luaQuote(u.pass), u.hashed, strings.Join(groups, ", "))
	}
	b.WriteString("}")
	ref := g.constant(b.String())
	g.ulRefs[name] = ref
	return ref
}
