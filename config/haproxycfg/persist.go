package haproxycfg

import (
	"fmt"
	"slices"
	"strings"

	"github.com/luaedge/luaedge/config"
)

// use-server and stick rules: a backend's rules that choose the server
// before the balancing does, compiled into one action that runs after
// every http-request (or tcp-request content) rule, when the request goes
// to the backend, as HAProxy runs them in its analysers after those
// rules. It calls TXN:use_server, stick_match and stick_store; proxy
// sends the request to the server chosen and writes the stores once the
// server took it.

// persistLine checks a use-server or stick line of backend p and keeps it.
func persistLine(p *proxy, at pos, w []string) error {
	ci := condIndex(w)
	if ci < len(w) && ci == len(w)-1 {
		return at.errorf("%s: a condition is needed after '%s'", w[0], w[ci])
	}
	switch w[0] {
	case "force-persist", "ignore-persist":
		if ci != 1 || len(w) == 1 {
			return at.errorf("%s: want 'if' or 'unless' and a condition", w[0])
		}
	case "use-server":
		if ci != 2 {
			return at.errorf("use-server: want a server name, then optionally 'if' or 'unless' and a condition")
		}
	case "stick":
		if len(w) < 2 {
			return at.errorf("stick: want match, on or store-request")
		}
		switch w[1] {
		case "match", "on", "store-request", "store-response":
		default:
			return at.errorf("stick %s: want match, on, store-request or store-response", w[1])
		}
		if ci != 3 && !(ci == 5 && w[3] == "table") {
			return at.errorf("stick %s: want a pattern, optionally 'table NAME', then optionally 'if' or 'unless' and a condition", w[1])
		}
	}
	p.persist = append(p.persist, rule{at: at, words: w})
	return nil
}

// persistRules compiles the force-persist and ignore-persist rules of
// backend x into an action of phase, run once the request's backend is
// known, as HAProxy evaluates them: the first rule whose condition holds
// forces or ignores the request's persistence (txn:set_persist). It
// returns "" when x has none.
func (c *chain) persistRules(x *proxy, phase string) (string, error) {
	sc := scope{fe: c.fe, be: x.name, tcpMode: !c.http, phase: phase, dir: c.dir, g: c.g, caps: c.caps}
	var code, comments []string
	for _, r := range x.persist {
		w := r.words
		if w[0] != "force-persist" && w[0] != "ignore-persist" {
			continue
		}
		comments = append(comments, r.at.String()+": "+strings.Join(w, " "))
		k, err := sc.cond(w[1:], x.acls)
		if err != nil {
			return "", r.at.errorf("%s: %v", w[0], err)
		}
		mode, _, _ := strings.Cut(w[0], "-")
		code = append(code, fmt.Sprintf("if %s then\ntxn:set_persist(%s)\n", k, luaQuote(mode)))
	}
	if len(code) == 0 {
		return "", nil
	}
	stmt := fmt.Sprintf("if H.st(txn).be == %s then\n%send\nend", luaQuote(x.name), strings.Join(code, "else"))
	return c.g.action(phase, strings.Join(comments, "; "), stmt), nil
}

// appendPersistRules appends to req the force-persist and ignore-persist
// actions of the backends a frontend reaches, run once its backend is
// chosen.
func (c *chain) appendPersistRules(req []string, reach map[string]bool, backends map[string]*proxy, phase string) ([]string, error) {
	for _, name := range sortedKeys(reach) {
		if x := backends[name]; len(x.persist) > 0 && len(x.servers) > 0 {
			r, err := c.persistRules(x, phase+"-req")
			if err != nil {
				return nil, err
			}
			if r != "" {
				req = append(req, r)
			}
		}
	}
	return req, nil
}

// persistTables adds server_id and server_key to the store of each table
// a stick rule names, as HAProxy does: their entries keep a server.
func (f *file) persistTables() error {
	tables := f.tables()
	for _, p := range f.proxies {
		for _, r := range p.persist {
			if r.words[0] != "stick" {
				continue
			}
			name := p.name
			if len(r.words) > 4 && r.words[3] == "table" {
				name = r.words[4]
			}
			t := tables[name]
			if t == nil {
				if name == p.name {
					return r.at.errorf("stick %s: %s %s has no stick-table (add one, or name another with 'table NAME')", r.words[1], p.kind, p.name)
				}
				return r.at.errorf("stick %s ... table %s: no frontend, backend or listen named %s with a stick-table", r.words[1], name, name)
			}
			for _, d := range []string{"server_id", "server_key"} {
				if !slices.Contains(t.stick.Store, d) {
					t.stick.Store = append(t.stick.Store, d)
				}
			}
		}
	}
	return nil
}

// modelStick returns the stick rules of backend x as the model's
// (config.StickRule), when each is one the model has: without a
// condition, on src, a cookie or a header field. Else the rules are
// compiled into Lua, all of them, to keep their order.
func modelStick(x *proxy) ([]config.StickRule, bool) {
	var out []config.StickRule
	for _, r := range x.persist {
		w := r.words
		if w[0] != "stick" {
			continue
		}
		if condIndex(w) < len(w) || w[1] == "store-response" {
			return nil, false
		}
		key := w[2]
		if arg, ok := strings.CutPrefix(key, "cook("); ok {
			key = "req.cook(" + arg
		} else if arg, ok := strings.CutPrefix(key, "hdr("); ok {
			key = "req.hdr(" + arg
		}
		if _, _, err := config.StickKey(key); err != nil {
			return nil, false
		}
		var sr config.StickRule
		switch w[1] {
		case "on":
			sr.On = key
		case "match":
			sr.Match = key
		default:
			sr.StoreRequest = key
		}
		if len(w) == 5 {
			sr.Table = w[4]
		}
		out = append(out, sr)
	}
	return out, len(out) > 0
}

// persist compiles the use-server and stick rules of backend x into an
// action of phase: the use-server rules first, then the stick rules in
// their order, as HAProxy's analysers run them; the stick rules the
// model takes are left to it (modelStick), which runs them after the
// Lua actions. It returns "" when nothing is left to compile.
func (c *chain) persist(x *proxy, phase string) (string, error) {
	sc := scope{fe: c.fe, be: x.name, tcpMode: !c.http, phase: phase, dir: c.dir, g: c.g, caps: c.caps}
	be := luaQuote(x.name)
	var code []string
	cond := func(r rule, w []string) (string, error) {
		if len(w) == 0 {
			return "true", nil
		}
		s, err := sc.cond(w, x.acls)
		if err != nil {
			return "", r.at.errorf("%s: %v", strings.Join(r.words[:condIndex(r.words)], " "), err)
		}
		return s, nil
	}
	var comments, use []string
	for _, r := range x.persist {
		if r.words[0] != "use-server" {
			continue
		}
		comments = append(comments, r.at.String()+": "+strings.Join(r.words, " "))
		k, err := cond(r, r.words[2:])
		if err != nil {
			return "", err
		}
		// use_server ignores a server down or in maintenance, and any
		// once one is chosen: the first rule whose server can take the
		// request wins.
		if !strings.Contains(r.words[1], "%[") {
			if !slices.ContainsFunc(x.servers, func(s config.Server) bool { return s.Name == r.words[1] }) {
				return "", r.at.errorf("use-server: %s %s has no server named '%s'", x.kind, x.name, r.words[1])
			}
			use = append(use, fmt.Sprintf("if %s then txn:use_server(%s, %s) end", k, be, luaQuote(r.words[1])))
			continue
		}
		// A name made from a format: one that names no server of the
		// backend ends the use-server rules, as HAProxy's.
		name, err := sc.format(r.words[1])
		if err != nil {
			return "", r.at.errorf("use-server %s: %v", r.words[1], err)
		}
		use = append(use, fmt.Sprintf("if %s then\nlocal n = %s\nif not core.backends[%s].servers[n] then break end\ntxn:use_server(%s, n)\nend", k, name, be, be))
	}
	if len(use) > 0 {
		code = append(code, "repeat\n"+strings.Join(use, "\n")+"\nuntil true")
	}
	_, inModel := modelStick(x)
	if !inModel {
		// stored: the tables this request has a pending store for; a
		// store rule (stick on included) of such a table is skipped
		// whole.
		code = append(code, "local stored = {}")
	}
	for _, r := range x.persist {
		if r.words[0] != "stick" || r.words[1] == "store-response" || inModel {
			continue
		}
		comments = append(comments, r.at.String()+": "+strings.Join(r.words, " "))
		w := r.words
		table := x.name
		ci := condIndex(w)
		if ci == 5 {
			table = w[4]
		}
		key, _, _, err := sc.expr(w[2], false)
		if err != nil {
			return "", r.at.errorf("stick %s: %v", w[1], err)
		}
		k, err := cond(r, w[ci:])
		if err != nil {
			return "", err
		}
		t := luaQuote(table)
		var body []string
		if w[1] != "store-request" {
			body = append(body, fmt.Sprintf("txn:stick_match(%s, k, %s)", be, t))
		}
		if w[1] != "match" {
			body = append(body, fmt.Sprintf("if txn:stick_store(%s, k, %s) then stored[%s] = true end", be, t, t))
			k = fmt.Sprintf("not stored[%s] and (%s)", t, k)
		}
		code = append(code, fmt.Sprintf("if %s then\nlocal k = %s\n%s\nend", k, key, strings.Join(body, "\n")))
	}
	if len(code) == 0 {
		return "", nil
	}
	stmt := fmt.Sprintf("if H.st(txn).be == %s then\n%s\nend", be, strings.Join(code, "\n"))
	return c.g.action(phase, strings.Join(comments, "; "), stmt), nil
}

// persistResponse compiles the stick store-response rules of backend x
// into an action of the response's phase, to run before its
// http-response rules, as HAProxy's store rules run when the response
// head arrived: the first rule of each table whose condition holds and
// whose pattern is found stores the server that answered. It returns ""
// when x has none.
func (c *chain) persistResponse(x *proxy) (string, error) {
	sc := scope{fe: c.fe, be: x.name, res: true, phase: "http-res", dir: c.dir, g: c.g, caps: c.caps}
	be := luaQuote(x.name)
	var code, comments []string
	for _, r := range x.persist {
		w := r.words
		if w[0] != "stick" || w[1] != "store-response" {
			continue
		}
		if !c.http {
			return "", r.at.errorf("stick store-response in mode tcp is not supported by luaedge")
		}
		comments = append(comments, r.at.String()+": "+strings.Join(w, " "))
		table := x.name
		ci := condIndex(w)
		if ci == 5 {
			table = w[4]
		}
		key, _, _, err := sc.expr(w[2], false)
		if err != nil {
			return "", r.at.errorf("stick store-response: %v", err)
		}
		k := "true"
		if ci < len(w) {
			if k, err = sc.cond(w[ci:], x.acls); err != nil {
				return "", r.at.errorf("stick store-response: %v", err)
			}
		}
		t := luaQuote(table)
		code = append(code, fmt.Sprintf("if not stored[%s] and (%s) then\nlocal k = %s\nif txn:stick_store_response(%s, k, %s) then stored[%s] = true end\nend", t, k, key, be, t, t))
	}
	if len(code) == 0 {
		return "", nil
	}
	stmt := fmt.Sprintf("if H.st(txn).be == %s then\nlocal stored = {}\n%s\nend", be, strings.Join(code, "\n"))
	return c.g.action("http-res", strings.Join(comments, "; "), stmt), nil
}
