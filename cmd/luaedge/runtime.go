package main

// The runtime API's commands (the runtime socket, and admin.runtime on
// the admin listener), in HAProxy's stats-socket manner: the commands
// HAProxy has answer with HAProxy's text, so that the scripts written
// for its socket read luaedge's. They act on the serving generation;
// backends, stick tables and maps are shared by every loop, so a change
// takes effect on every loop at once.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/luaedge/luaedge/admin"
	"github.com/luaedge/luaedge/backend"
	"github.com/luaedge/luaedge/edge"
	"github.com/luaedge/luaedge/lj"
	"github.com/luaedge/luaedge/metrics"
	"github.com/luaedge/luaedge/shared/sticktable"
)

// runtimeTimeout bounds a script's command; loopsTimeout what a command
// waits for the loops' answers (a loop held by a script that never
// yields is left out after it, as a scrape leaves it out).
const (
	runtimeTimeout = 30 * time.Second
	loopsTimeout   = 2 * time.Second
)

// commands are the runtime commands now: luaedge's, and those the
// serving generation's scripts registered (core.register_cli).
func (p *process) commands() []admin.Command {
	cmds := []admin.Command{
		{Path: []string{"reload"}, Help: "reload the configuration and the scripts", Run: p.reloadCommand},
		{Path: []string{"show", "info"}, ReadOnly: true, Usage: "[typed|json]", Help: "report information about the running process", Run: p.serverCmd(p.showInfo)},
		{Path: []string{"show", "version"}, ReadOnly: true, Help: "show version of the current process", Run: func([]string) string { return version + "\n" }},
		{Path: []string{"show", "stat"}, ReadOnly: true, Usage: "[<proxy> <type> <sid>] [typed|json]", Help: "report counters for each proxy and server", Run: p.serverCmd(p.showStat)},
		{Path: []string{"show", "servers", "state"}, ReadOnly: true, Usage: "[<backend>]", Help: "dump volatile server information", Run: p.serverCmd(showServersState)},
		{Path: []string{"show", "backend"}, ReadOnly: true, Help: "list backends in the current running config", Run: p.serverCmd(showBackend)},
		{Path: []string{"show", "table"}, ReadOnly: true, Usage: "[<table> [<filter>]*]", Help: "report table usage stats or dump this table's contents (filter: data/key)", Run: p.serverCmd(showTable)},
		{Path: []string{"clear", "table"}, Usage: "<table> [<filter>]*", Help: "remove entries from a table (filter: data/key)", Run: p.serverCmd(clearTable)},
		{Path: []string{"show", "cache"}, ReadOnly: true, Help: "show cache status", Run: p.serverCmd(showCache)},
		{Path: []string{"set", "table"}, Usage: "<table> key <k> [data.* <v>]*", Help: "update or create a table entry's data", Run: p.serverCmd(setTable)},
		{Path: []string{"show", "map"}, ReadOnly: true, Usage: "[@<ver>] [<map>]", Help: "report available maps or dump a map's contents", Run: p.serverCmd(showMap)},
		{Path: []string{"get", "map"}, ReadOnly: true, Usage: "<map> <value>", Help: "report the keys and values matching a sample for a map", Run: p.serverCmd(getMap)},
		{Path: []string{"add", "map"}, Usage: "[@<ver>] <map> <key> <val>", Help: "add a map entry (payload supported instead of key/val)", Run: p.serverCmd(addMap), RunPayload: p.payloadCmd(addMapPayload)},
		{Path: []string{"set", "map"}, Usage: "<map> [<key>|#<ref>] <value>", Help: "modify a map entry", Run: p.serverCmd(setMap)},
		{Path: []string{"del", "map"}, Usage: "<map> [<key>|#<ref>]", Help: "delete map entries matching <key>", Run: p.serverCmd(delMap)},
		{Path: []string{"clear", "map"}, Usage: "[@<ver>] <map>", Help: "clear the contents of this map", Run: p.serverCmd(clearMap)},
		{Path: []string{"prepare", "map"}, Usage: "<map>", Help: "prepare a new version for atomic map replacement", Run: p.serverCmd(prepareMap)},
		{Path: []string{"commit", "map"}, Usage: "@<ver> <map>", Help: "commit the map at this version", Run: p.serverCmd(commitMap)},
		{Path: []string{"show", "acl"}, ReadOnly: true, Usage: "[@<ver>] [<acl>]", Help: "report available acls or dump an acl's contents", Run: p.serverCmd(showACL)},
		{Path: []string{"get", "acl"}, ReadOnly: true, Usage: "<acl> <value>", Help: "report the patterns matching a sample for an ACL", Run: p.serverCmd(getACL)},
		{Path: []string{"add", "acl"}, Usage: "[@<ver>] <acl> <pattern>", Help: "add an acl entry", Run: p.serverCmd(addACL)},
		{Path: []string{"del", "acl"}, Usage: "<acl> [<key>|#<ref>]", Help: "delete acl entries matching <key>", Run: p.serverCmd(delACL)},
		{Path: []string{"clear", "acl"}, Usage: "[@<ver>] <acl>", Help: "clear the contents of this acl", Run: p.serverCmd(clearACL)},
		{Path: []string{"prepare", "acl"}, Usage: "<acl>", Help: "prepare a new version for atomic ACL replacement", Run: p.serverCmd(prepareACL)},
		{Path: []string{"commit", "acl"}, Usage: "@<ver> <acl>", Help: "commit the ACL at this version", Run: p.serverCmd(commitACL)},
		{Path: []string{"set", "server"}, Usage: "<bk>/<srv> [opts]", Help: "change a server's state, weight, health or address", Run: p.serverCmd(setServer)},
		{Path: []string{"set", "weight"}, Usage: "<bk>/<srv> <weight>[%]", Help: "change a server's weight (use 'set server' instead)", Run: p.serverCmd(setWeight)},
		{Path: []string{"get", "weight"}, ReadOnly: true, Usage: "<bk>/<srv>", Help: "report a server's current weight", Run: p.serverCmd(getWeight)},
		{Path: []string{"enable", "server"}, Usage: "<bk>/<srv>", Help: "put a server back in service (set server ... state ready)", Run: p.serverCmd(enableServer)},
		{Path: []string{"disable", "server"}, Usage: "<bk>/<srv>", Help: "put a server in maintenance (set server ... state maint)", Run: p.serverCmd(disableServer)},
		{Path: []string{"add", "server"}, Usage: "<bk>/<srv> <addr>:<port> [opts]", Help: "create a new server, in maintenance (opts: weight, maxconn, backup, check, send-proxy, send-proxy-v2)", Run: p.serverCmd(addServer)},
		{Path: []string{"del", "server"}, Usage: "<bk>/<srv>", Help: "remove a server in maintenance with no request in flight", Run: p.serverCmd(delServer)},
		{Path: []string{"enable", "health"}, Usage: "<bk>/<srv>", Help: "enable health checks", Run: p.serverCmd(setHealth(true))},
		{Path: []string{"disable", "health"}, Usage: "<bk>/<srv>", Help: "disable health checks", Run: p.serverCmd(setHealth(false))},
		{Path: []string{"show", "sess"}, ReadOnly: true, Usage: "[<id>|all]", Help: "report the list of client connections or dump one", Run: p.serverCmd(showSess)},
	}
	if g := p.serving.Load(); g != nil {
		for i, c := range g.srv.CLIs() {
			cmds = append(cmds, admin.Command{Path: c.Path, Usage: c.Usage, Run: luaCLI(g.srv, i+1, c)})
		}
	}
	return cmds
}

// serverCmd runs fn on the serving generation's server.
func (p *process) serverCmd(fn func(srv *edge.Server, args []string) string) func([]string) string {
	return func(args []string) string {
		g := p.serving.Load()
		if g == nil {
			return "luaedge is not serving yet.\n"
		}
		return fn(g.srv, args)
	}
}

// payloadCmd runs fn, a command that takes a payload, on the serving
// generation's server.
func (p *process) payloadCmd(fn func(srv *edge.Server, args []string, payload string) string) func([]string, string) string {
	return func(args []string, payload string) string {
		g := p.serving.Load()
		if g == nil {
			return "luaedge is not serving yet.\n"
		}
		return fn(g.srv, args, payload)
	}
}

// luaCLI runs a script's command: its function gets the command's words,
// its path's included, as HAProxy gives them.
func luaCLI(srv *edge.Server, id int, c lj.CLI) func([]string) string {
	return func(args []string) string {
		ctx, cancel := context.WithTimeout(context.Background(), runtimeTimeout)
		defer cancel()
		out, _, err := srv.RunCLI(ctx, id, append(slices.Clone(c.Path), args...))
		if errors.Is(err, edge.ErrCLITimeout) {
			return out + fmt.Sprintf("The Lua command did not end within %v: it was stopped.\n", runtimeTimeout)
		}
		if err != nil {
			return out + "The Lua command could not run: " + err.Error() + "\n"
		}
		return out
	}
}

// stamp adds what the process knows to a snapshot of its serving
// generation.
func (p *process) stamp(s *metrics.Snapshot, g *generation) *metrics.Snapshot {
	s.Uptime = time.Since(p.started)
	s.Version = version
	s.Generation = g.n
	return s
}

// snapshot is the metrics and stats page's source: nil before the first
// generation serves.
func (p *process) snapshot(ctx context.Context) *metrics.Snapshot {
	g := p.serving.Load()
	if g == nil {
		return nil
	}
	return p.stamp(g.srv.Snapshot(ctx), g)
}

// sample feeds the history a sample of the counters every second until
// the process stops.
func (p *process) sample() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			if g := p.serving.Load(); g != nil {
				p.hist.Add(now, p.stamp(g.srv.Counters(), g))
			}
		}
	}
}

// showInfo is "show info [typed|json]": HAProxy's keys that luaedge has
// a value for, at HAProxy's positions, then luaedge's own from 100 on.
func (p *process) showInfo(srv *edge.Server, args []string) string {
	form := ""
	if len(args) > 0 {
		form = args[0]
	}
	if len(args) > 1 || (form != "" && form != "typed" && form != "json") {
		return "'show info' takes no argument, 'typed' or 'json'.\n"
	}
	g := p.serving.Load()
	ctx, cancel := context.WithTimeout(context.Background(), loopsTimeout)
	defer cancel()
	st := metrics.StatsOf(p.stamp(srv.Snapshot(ctx), g), p.hist, 0)
	up := int64(st.Uptime)
	var nofile syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	host, _ := os.Hostname()
	stopping := 0
	if p.stopping.Load() {
		stopping = 1
	}
	pr := st.Process
	var fields []metrics.Field
	for _, f := range []struct {
		pos        int
		name, kind string
		v          any
	}{
		{0, "Name", "POS:str", "luaedge"},
		{1, "Version", "POS:str", version},
		{3, "Nbthread", "CGS:u32", st.Loops},
		{4, "Nbproc", "CGS:u32", 1},
		{5, "Process_num", "KGP:u32", 1},
		{6, "Pid", "SGP:u32", os.Getpid()},
		{7, "Uptime", "MDP:str", fmt.Sprintf("%dd %dh%02dm%02ds", up/86400, up%86400/3600, up%3600/60, up%60)},
		{8, "Uptime_sec", "MDP:u32", up},
		{13, "Ulimit-n", "CLP:u32", nofile.Cur},
		{17, "CurrConns", "MGP:u32", pr.Sessions},
		{18, "CumConns", "MCP:u32", pr.SessionsTotal},
		{19, "CumReq", "MCP:u32", pr.Requests},
		{26, "ConnRate", "MRP:u32", pr.ConnRate},
		{28, "MaxConnRate", "MMP:u32", pr.ConnRateMax},
		{29, "SessRate", "MRP:u32", pr.ConnRate},
		{31, "MaxSessRate", "MRP:u32", pr.ConnRateMax},
		{50, "node", "COS:str", host},
		{52, "Stopping", "MGP:u32", stopping},
		{61, "TotalBytesOut", "MGP:u64", pr.BytesOut},
		{63, "BytesOutRate", "MRP:u64", pr.BytesOutRate},
		{100, "Generation", "MGP:u32", st.Generation},
		{101, "ReqRate", "MRP:u32", pr.ReqRate},
		{102, "MaxReqRate", "MMP:u32", pr.ReqRateMax},
		{103, "LuaMemory_bytes", "MGP:u64", pr.LuaMemory},
		{104, "CgoCalls", "MCP:u64", pr.CgoCalls},
	} {
		fields = append(fields, metrics.Field{Pos: f.pos, Name: f.name, Kind: f.kind, Value: fmt.Sprint(f.v)})
	}
	switch form {
	case "typed":
		return metrics.InfoTyped(fields)
	case "json":
		return metrics.InfoJSON(fields)
	}
	var b strings.Builder
	for _, f := range fields {
		fmt.Fprintf(&b, "%s: %s\n", f.Name, f.Value)
	}
	return b.String()
}

// showStat is "show stat [<proxy> <type> <sid>] [typed|json]": HAProxy's
// CSV, or its typed or JSON form.
func (p *process) showStat(srv *edge.Server, args []string) string {
	form := ""
	if n := len(args); n > 0 && (args[n-1] == "typed" || args[n-1] == "json") {
		form, args = args[n-1], args[:n-1]
	}
	var f metrics.CSVFilter
	switch len(args) {
	case 0:
	case 3:
		f.Proxy = args[0]
		var err1, err2 error
		f.Types, err1 = strconv.Atoi(args[1])
		f.SID, err2 = strconv.Atoi(args[2])
		if err1 != nil || err2 != nil {
			return "Invalid type or server id: 'show stat <proxy> <type> <sid>' takes numbers (type: 1 frontends, 2 backends, 4 servers, -1 all).\n"
		}
	default:
		return "'show stat' takes [<proxy> <type> <sid>] then 'typed' or 'json' (HAProxy's 'domain', 'desc', 'up' and 'no-maint' are not supported).\n"
	}
	st := metrics.StatsOf(p.stamp(srv.Counters(), p.serving.Load()), p.hist, 0)
	switch form {
	case "typed":
		return st.Typed(f)
	case "json":
		return st.JSON(f)
	}
	return st.CSV(f)
}

// HAProxy's numbers of check statuses (enum healthcheck_status), for
// show servers state.
var checkStatusNumbers = map[string]int{"SOCKERR": 5, "L4OK": 6, "L4TOUT": 7, "L4CON": 8, "L7TOUT": 12, "L7RSP": 13, "L7OK": 15, "L7STS": 17}

// showServersState is "show servers state [<backend>]": HAProxy's
// format 1, a line per server.
func showServersState(srv *edge.Server, args []string) string {
	snap := srv.Counters()
	if len(args) > 0 && srv.Backend(args[0]) == nil {
		return "Can't find backend.\n"
	}
	var b strings.Builder
	b.WriteString("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n")
	for i, be := range snap.Backends {
		if len(args) > 0 && be.Name != args[0] {
			continue
		}
		for _, sv := range be.Servers {
			opState := 2 // running
			switch {
			case !sv.Up:
				opState = 0
			case sv.Status == "NOLB":
				opState = 3
			}
			adminState := map[string]int{backend.AdminMaint: 1, backend.AdminDrain: 8}[sv.Admin]
			c := sv.Check
			status, result, checkState := 1, 0, 0 // initialising, unknown, no checks
			if c.Configured {
				checkState = 2 // configured
				if c.Enabled {
					checkState |= 4
				}
				if n, ok := checkStatusNumbers[c.Status]; ok {
					status, result = n, 2
					if strings.HasSuffix(c.Status, "OK") {
						result = 3
					}
				}
			}
			host, port, _ := net.SplitHostPort(sv.Address)
			fqdn := "-"
			if net.ParseIP(host) == nil {
				fqdn = host
			}
			ssl := 0
			if s := srv.Backend(be.Name).Server(sv.Name); s != nil && s.TLS() != nil {
				ssl = 1
			}
			fmt.Fprintf(&b, "%d %s %d %s %s %d %d %d %d %d %d %d %d %d 0 0 0 %s %s - %d 0 - - 0\n",
				len(snap.Frontends)+i+1, be.Name, sv.ID, sv.Name, host, opState, adminState, sv.Weight, sv.InitialWeight,
				int64(sv.LastChange/time.Second), status, result, c.Health, checkState, fqdn, port, ssl)
		}
	}
	return b.String()
}

func showBackend(srv *edge.Server, _ []string) string {
	var b strings.Builder
	b.WriteString("# name\n")
	for _, be := range srv.Counters().Backends {
		b.WriteString(be.Name + "\n")
	}
	return b.String()
}

// The order HAProxy lists a table's data types in (its stored types'
// enum), for show table.
var tableDataOrder = []string{"server_id", "gpt0", "gpc0", "gpc0_rate", "conn_cnt", "conn_rate", "conn_cur", "http_req_cnt", "http_req_rate",
	"http_err_cnt", "http_err_rate", "bytes_in_cnt", "bytes_out_cnt", "gpc1", "gpc1_rate", "server_key", "gpt", "gpc", "gpc_rate"}

const tableArgs = "Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n"

// tableQuery is what show table and clear table read after the table's
// name: data filters, or a key.
type tableQuery struct {
	filters []sticktable.Filter
	key     string
	hasKey  bool
}

// parseTableQuery reads the filters as HAProxy's CLI does; the string is
// the error to answer.
func parseTableQuery(t *sticktable.Table, args []string) (tableQuery, string) {
	var q tableQuery
	for i := 0; i < len(args); {
		switch {
		case args[i] == "key":
			if i+1 >= len(args) {
				return q, tableArgs
			}
			q.key, q.hasKey = args[i+1], true
			i += 2
		case strings.HasPrefix(args[i], "data."):
			n := len(q.filters) + 1
			if n > 4 {
				return q, "Too many data filters (at most 4).\n"
			}
			name := strings.TrimPrefix(args[i], "data.")
			switch {
			case !sticktable.Known(name):
				return q, fmt.Sprintf("Filter entry #%d: Unknown data type\n", n)
			case !t.Stores(name):
				return q, fmt.Sprintf("Filter entry #%d: Data type not stored in this table\n", n)
			}
			if i+1 >= len(args) || !slices.Contains([]string{"eq", "ne", "le", "ge", "lt", "gt"}, args[i+1]) {
				return q, fmt.Sprintf("Filter entry #%d: Require and operator among \"eq\", \"ne\", \"le\", \"ge\", \"lt\", \"gt\"\n", n)
			}
			var v int64
			var err error
			if i+2 < len(args) {
				v, err = strconv.ParseInt(args[i+2], 10, 64)
			}
			if i+2 >= len(args) || err != nil {
				return q, fmt.Sprintf("Filter entry #%d: Require a valid integer value to compare against\n", n)
			}
			q.filters = append(q.filters, sticktable.Filter{Counter: name, Op: args[i+1], Value: v})
			i += 3
		default:
			return q, tableArgs
		}
	}
	return q, ""
}

// showCache is "show cache": each cache with the 1 KiB blocks it has
// free (HAProxy's unit), then its fresh objects, in HAProxy's lines (no
// object is held by a request between two reads: refcount is 0).
func showCache(srv *edge.Server, _ []string) string {
	var b strings.Builder
	now := time.Now()
	for _, c := range srv.Caches() {
		cfg := c.Config()
		fmt.Fprintf(&b, "%p: %s (shctx:%p, available blocks:%d)\n", c, cfg.Name, c, (cfg.TotalMaxSize-c.Used())/1024)
		for _, e := range c.Entries(now) {
			fmt.Fprintf(&b, "%s hash:%d vary:0x%x size:%d (%d blocks), refcount:0, expire:%d\n", e.Addr, e.Hash, e.Secondary[:], e.Size, (e.Size+1023)/1024, e.Expire)
		}
	}
	return b.String()
}

// tableHeader is show table's line of a table.
func tableHeader(t *sticktable.Table) string {
	return fmt.Sprintf("# table: %s, type: %s, size:%d, used:%d\n", t.Name(), t.Type(), t.Size(), t.Used())
}

// showTable is "show table [<table> [data.<type> <op> <value>]* | [key <key>]]".
func showTable(srv *edge.Server, args []string) string {
	if len(args) == 0 {
		var b strings.Builder
		for _, t := range srv.Tables() {
			b.WriteString(tableHeader(t))
		}
		return b.String()
	}
	t := srv.Table(args[0])
	if t == nil {
		return "No such table\n"
	}
	q, msg := parseTableQuery(t, args[1:])
	if msg != "" {
		return msg
	}
	entries := map[string]map[string]int64{}
	if q.hasKey {
		if k, err := t.Key(q.key); err == nil {
			if v := t.Lookup(k); v != nil {
				entries[k] = v
			}
		}
	} else {
		var err error
		if entries, err = t.Dump(q.filters); err != nil {
			return err.Error() + "\n"
		}
	}
	// Rates show their period, as "http_req_rate(10000)".
	names := map[string]string{}
	for _, d := range t.Info()["data"].([]string) {
		name, period, _ := strings.Cut(d, "=")
		names[name] = name
		if period != "-1" {
			names[name] = name + "(" + period + ")"
		}
	}
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(tableHeader(t))
	for _, k := range keys {
		v := entries[k]
		h := fnv.New64a()
		h.Write([]byte(t.Name() + "\x00" + k))
		fmt.Fprintf(&b, "0x%x: key=%s use=%d exp=%d", h.Sum64()&0xffffffffffff, k, v["use"], v["expire"])
		for _, name := range tableDataOrder {
			shown, ok := names[name]
			switch {
			case !ok:
			case name == "server_key":
				// The stored server's name.
				key := t.ServerName(k)
				if key == "" {
					key = "-"
				}
				fmt.Fprintf(&b, " server_key=%s", key)
			case t.ArrayLen(name) > 0:
				// Element by element, the index before the name's "_":
				// gpc0_rate(10000)=.
				prefix, suffix, _ := strings.Cut(shown, "_")
				if suffix != "" {
					suffix = "_" + suffix
				}
				base, _, _ := strings.Cut(name, "_")
				for i := range t.ArrayLen(name) {
					field := base + strconv.Itoa(i)
					if strings.HasSuffix(name, "_rate") {
						field += "_rate"
					}
					fmt.Fprintf(&b, " %s%d%s=%d", prefix, i, suffix, v[field])
				}
			default:
				fmt.Fprintf(&b, " %s=%d", shown, v[name])
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// clearTable is "clear table <table> [data.<type> <op> <value>]* | [key <key>]".
func clearTable(srv *edge.Server, args []string) string {
	if len(args) == 0 {
		return tableArgs
	}
	t := srv.Table(args[0])
	if t == nil {
		return "No such table\n"
	}
	q, msg := parseTableQuery(t, args[1:])
	if msg != "" {
		return msg
	}
	if q.hasKey {
		k, err := t.Key(q.key)
		if err != nil {
			return ""
		}
		if found, removed := t.Clear(k); found && !removed {
			return "Entry currently in use, cannot remove\n"
		}
		return ""
	}
	if _, err := t.ClearMatching(q.filters); err != nil {
		return err.Error() + "\n"
	}
	return ""
}

const setTableArgs = "Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n"

// setTable is "set table <table> key <key> [data.<type> <value>]*": the
// entry is created if absent and refreshed; the settings before a bad one
// are written, as HAProxy writes them one by one.
func setTable(srv *edge.Server, args []string) string {
	if len(args) == 0 {
		return setTableArgs
	}
	t := srv.Table(args[0])
	switch {
	case t == nil:
		return "No such table\n"
	case len(args) == 1:
		// HAProxy 2.6 empties the table there, which "clear table" is for.
		return setTableArgs
	case strings.HasPrefix(args[1], "data."):
		return "content-based lookup is only supported with the \"show\" and \"clear\" actions\n"
	case args[1] != "key":
		return setTableArgs
	case len(args) < 3 || args[2] == "":
		return "Key value expected\n"
	}
	k, err := t.Key(args[2])
	if err != nil {
		return "Invalid key\n"
	}
	var settings []sticktable.Setting
	msg := ""
	for i := 3; i < len(args) && msg == ""; i += 2 {
		name, ok := strings.CutPrefix(args[i], "data.")
		if !ok {
			msg = "\"data.<type>\" followed by a value expected\n"
			break
		}
		if err := t.CheckSetting(name); err != nil {
			msg = err.Error() + "\n"
			break
		}
		var v int64
		if i+1 < len(args) {
			v, err = strconv.ParseInt(args[i+1], 10, 64)
		}
		if i+1 >= len(args) || err != nil {
			msg = "Require a valid integer value to store\n"
			break
		}
		settings = append(settings, sticktable.Setting{Type: name, Value: v})
	}
	if err := t.Set(k, settings); err != nil {
		return err.Error() + "\n"
	}
	return msg
}

const (
	unknownMap  = "Unknown map identifier. Please use #<id> or <file>.\n"
	addMapUsage = "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n"
)

// cutVersion takes "@<ver>" off the front of args. HAProxy reads the
// digits the version starts with ("@x" is version 0, as its str2uic).
func cutVersion(args []string) (lj.FileVersion, []string) {
	if len(args) == 0 || !strings.HasPrefix(args[0], "@") {
		return lj.FileVersion{}, args
	}
	var n uint32
	for _, c := range []byte(args[0][1:]) {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint32(c-'0')
	}
	return lj.FileVersion{N: n, Set: true}, args[1:]
}

// listFiles is "show map" and "show acl" without a file.
func listFiles(files []lj.MapFile, kind string) string {
	var b strings.Builder
	b.WriteString("# id (file) description\n")
	for _, f := range files {
		fmt.Fprintf(&b, "%d (%s) pattern loaded from file '%s' used by %s. curr_ver=%d next_ver=%d entry_cnt=%d\n", f.ID, f.Path, f.Path, kind, f.Curr, f.Next, f.Entries)
	}
	return b.String()
}

// showMap is "show map [[@<ver>] <map>]".
func showMap(srv *edge.Server, args []string) string {
	sh := srv.Shared()
	if len(args) == 0 {
		return listFiles(sh.MapFiles(), "map")
	}
	v, args := cutVersion(args)
	if len(args) == 0 {
		return unknownMap
	}
	entries, err := sh.MapEntries(args[0], v)
	if err != nil {
		return unknownMap
	}
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s %s %s\n", e.Ref, e.Key, e.Value)
	}
	return b.String()
}

// matchLines is the answer of "get map" (isMap) and "get acl": a line a
// match method and type of values, in HAProxy's words.
func matchLines(ms []lj.Match, isMap bool) string {
	found := map[bool]string{true: "found", false: "match"}[isMap]
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "type=%s, case=sensitive", m.Method)
		if !m.Found {
			fmt.Fprintf(&b, ", %s=no\n", found)
			continue
		}
		fmt.Fprintf(&b, ", %s=yes, idx=%s", found, map[bool]string{true: "tree", false: "list"}[m.Tree])
		switch {
		case !isMap:
			fmt.Fprintf(&b, ", pattern=\"%s\"\n", m.Entry.Key)
		case m.NoValue:
			fmt.Fprintf(&b, ", key=\"%s\", value=none\n", m.Entry.Key)
		default:
			fmt.Fprintf(&b, ", key=\"%s\", value=\"%s\", type=\"%s\"\n", m.Entry.Key, m.Entry.Value, m.ValueType)
		}
	}
	return b.String()
}

// getMap is "get map <map> <value>".
func getMap(srv *edge.Server, args []string) string {
	if len(args) < 2 {
		return "Missing map identifier and/or key.\n"
	}
	ms, err := srv.Shared().MapGet(args[0], args[1])
	if err != nil {
		return unknownMap
	}
	return matchLines(ms, true)
}

// mapError is the answer to a map command's error.
func mapError(err error) string {
	switch {
	case errors.Is(err, lj.ErrNoMap):
		return unknownMap
	case errors.Is(err, lj.ErrFutureVersion):
		return "Version number in the future, please use 'prepare map' before.\n"
	case errors.Is(err, lj.ErrVersionRange):
		return "Version number out of range.\n"
	}
	return err.Error() + "\n"
}

// addMap is "add map [@<ver>] <map> <key> <value>".
func addMap(srv *edge.Server, args []string) string {
	v, args := cutVersion(args)
	if len(args) < 3 {
		return addMapUsage
	}
	if err := srv.Shared().MapAdd(args[0], v, args[1], args[2]); err != nil {
		return mapError(err)
	}
	return ""
}

// addMapPayload is "add map [@<ver>] <map> <<" and its payload, read as
// HAProxy 2.6 reads it: a key runs to the first blank, even past the end
// of a line (a line without a value takes the next line's key into its
// own), the value from the next non-blank to the end of the line. The
// entries before an error stay added.
func addMapPayload(srv *edge.Server, args []string, payload string) string {
	v, args := cutVersion(args)
	if len(args) < 1 {
		return addMapUsage
	}
	for payload != "" {
		i := strings.IndexAny(payload, " \t")
		if i < 0 {
			return fmt.Sprintf("Missing value for key '%s'.\n", payload)
		}
		key := payload[:i]
		value, rest, _ := strings.Cut(strings.TrimLeft(payload[i+1:], " \t"), "\n")
		if err := srv.Shared().MapAdd(args[0], v, key, value); err != nil {
			return mapError(err)
		}
		payload = rest
	}
	return ""
}

func setMap(srv *edge.Server, args []string) string {
	if len(args) < 3 {
		return "'set map' expects three parameters: map identifier, key and value.\n"
	}
	found, err := srv.Shared().MapSet(args[0], args[1], args[2])
	switch {
	case err != nil:
		return unknownMap
	case found:
		return ""
	case strings.HasPrefix(args[1], "#"):
		return "key or pattern not found.\n"
	}
	return "entry not found.\n"
}

func delMap(srv *edge.Server, args []string) string {
	if len(args) < 2 {
		return "This command expects two parameters: map identifier and key.\n"
	}
	found, err := srv.Shared().MapDel(args[0], args[1])
	switch {
	case err != nil:
		return unknownMap
	case !found:
		return "Key not found.\n"
	}
	return ""
}

// clearMap is "clear map [@<ver>] <map>".
func clearMap(srv *edge.Server, args []string) string {
	v, args := cutVersion(args)
	if len(args) < 1 {
		return "Missing map identifier.\n"
	}
	if err := srv.Shared().MapClear(args[0], v); err != nil {
		return unknownMap
	}
	return ""
}

// prepareMap is "prepare map <map>".
func prepareMap(srv *edge.Server, args []string) string {
	if len(args) < 1 {
		return unknownMap
	}
	n, err := srv.Shared().MapPrepare(args[0])
	if err != nil {
		return unknownMap
	}
	return fmt.Sprintf("New version created: %d\n", n)
}

// commitMap is "commit map @<ver> <map>".
func commitMap(srv *edge.Server, args []string) string {
	v, args := cutVersion(args)
	switch {
	case !v.Set:
		return "Missing version number.\n"
	case len(args) < 1:
		return "Missing map identifier.\n"
	}
	if err := srv.Shared().MapCommit(args[0], v.N); err != nil {
		return mapError(err)
	}
	return ""
}

const unknownACL = "Unknown ACL identifier. Please use #<id> or <file>.\n"

// aclError is the answer to an ACL command's error.
func aclError(err error) string {
	switch {
	case errors.Is(err, lj.ErrNoACL):
		return unknownACL
	case errors.Is(err, lj.ErrFutureVersion):
		return "Version number in the future, please use 'prepare acl' before.\n"
	case errors.Is(err, lj.ErrVersionRange):
		return "Version number out of range.\n"
	}
	return err.Error() + ".\n"
}

// showACL is "show acl [[@<ver>] <acl>]": the ACL files (those a
// haproxy.cfg's ACLs load with -f, and those scripts change), or one's
// patterns.
func showACL(srv *edge.Server, args []string) string {
	sh := srv.Shared()
	if len(args) == 0 {
		return listFiles(sh.ACLFiles(), "acl")
	}
	v, args := cutVersion(args)
	if len(args) == 0 {
		return unknownACL
	}
	entries, err := sh.ACLEntries(args[0], v)
	if err != nil {
		return unknownACL
	}
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s %s\n", e.Ref, e.Key)
	}
	return b.String()
}

// getACL is "get acl <acl> <value>".
func getACL(srv *edge.Server, args []string) string {
	if len(args) < 2 {
		return "Missing ACL identifier and/or key.\n"
	}
	ms, err := srv.Shared().ACLGet(args[0], args[1])
	if err != nil {
		return aclError(err)
	}
	return matchLines(ms, false)
}

// addACL is "add acl [@<ver>] <acl> <pattern>".
func addACL(srv *edge.Server, args []string) string {
	v, args := cutVersion(args)
	if len(args) < 2 {
		return "'add acl' expects two parameters: ACL identifier and pattern.\n"
	}
	if err := srv.Shared().ACLAdd(args[0], v, args[1]); err != nil {
		return aclError(err)
	}
	return ""
}

func delACL(srv *edge.Server, args []string) string {
	if len(args) < 2 {
		return "This command expects two parameters: ACL identifier and key.\n"
	}
	found, err := srv.Shared().ACLDel(args[0], args[1])
	switch {
	case errors.Is(err, lj.ErrNoACL):
		return unknownMap // HAProxy 2.6's words here
	case err != nil:
		return aclError(err)
	case !found:
		return "Key not found.\n"
	}
	return ""
}

// clearACL is "clear acl [@<ver>] <acl>".
func clearACL(srv *edge.Server, args []string) string {
	v, args := cutVersion(args)
	if len(args) < 1 {
		return "Missing ACL identifier.\n"
	}
	if err := srv.Shared().ACLClear(args[0], v); err != nil {
		return aclError(err)
	}
	return ""
}

// prepareACL is "prepare acl <acl>".
func prepareACL(srv *edge.Server, args []string) string {
	if len(args) < 1 {
		return unknownACL
	}
	n, err := srv.Shared().ACLPrepare(args[0])
	if err != nil {
		return aclError(err)
	}
	return fmt.Sprintf("New version created: %d\n", n)
}

// commitACL is "commit acl @<ver> <acl>".
func commitACL(srv *edge.Server, args []string) string {
	v, args := cutVersion(args)
	switch {
	case !v.Set:
		return "Missing version number.\n"
	case len(args) < 1:
		return "Missing ACL identifier.\n"
	}
	if err := srv.Shared().ACLCommit(args[0], v.N); err != nil {
		return aclError(err)
	}
	return ""
}

// findServer resolves "<backend>/<server>"; the string is the error to
// answer, as HAProxy's.
func findServer(srv *edge.Server, args []string) (string, *backend.Server, string) {
	if len(args) == 0 {
		return "", nil, "Require 'backend/server'.\n"
	}
	be, name, ok := strings.Cut(args[0], "/")
	if !ok || be == "" || name == "" {
		return "", nil, "Require 'backend/server'.\n"
	}
	b := srv.Backend(be)
	if b == nil {
		return "", nil, "No such backend.\n"
	}
	sv := b.Server(name)
	if sv == nil {
		return "", nil, "No such server.\n"
	}
	return be, sv, ""
}

const setServerUsage = "usage: set server <backend>/<server> addr | health | state | weight\n"

// setServer is "set server <bk>/<srv> state|weight|health|addr ...".
func setServer(srv *edge.Server, args []string) string {
	_, sv, msg := findServer(srv, args)
	if msg != "" {
		return msg
	}
	if len(args) < 2 {
		return setServerUsage
	}
	switch args[1] {
	case "state":
		if len(args) < 3 || !sv.SetAdminState(args[2]) {
			return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
		}
		return ""
	case "weight":
		return setServerWeight(sv, args[2:])
	case "health":
		if len(args) < 3 {
			return "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n"
		}
		switch args[2] {
		case "up":
			sv.CheckForceUp()
		case "stopping":
			sv.CheckForceNoLB()
		case "down":
			sv.CheckForceDown()
		default:
			return "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n"
		}
		return ""
	case "addr":
		return setServerAddr(sv, args[2:])
	}
	return setServerUsage
}

// setServerWeight sets an absolute weight, or one relative to the
// configured weight ("50%"), as HAProxy's.
func setServerWeight(sv *backend.Server, args []string) string {
	if len(args) == 0 || args[0] == "" {
		return "Require <weight> or <weight%>.\n"
	}
	s, relative := strings.CutSuffix(args[0], "%")
	w, err := strconv.Atoi(s)
	if err != nil || w < 0 {
		return "Empty weight string empty or preceded by garbage\n"
	}
	if relative {
		w = sv.InitialWeight() * w / 100
		if w > backend.MaxWeight {
			return "Relative weight too large.\n"
		}
	} else if w > backend.MaxWeight {
		return "Absolute weight can only be between 0 and 256 inclusive.\n"
	}
	_ = sv.SetWeight(w)
	return ""
}

// setServerAddr is "set server <bk>/<srv> addr <ip> [port <port>]".
func setServerAddr(sv *backend.Server, args []string) string {
	if len(args) == 0 || (len(args) != 1 && (len(args) != 3 || args[1] != "port")) {
		return "set server <b>/<s> addr requires an address and optionally a port.\n"
	}
	oldHost, oldPort, _ := net.SplitHostPort(sv.Addr())
	host, port := args[0], oldPort
	if len(args) == 3 {
		port = args[2]
	}
	if err := sv.SetAddr(net.JoinHostPort(host, port)); err != nil {
		return "Invalid address or port: " + err.Error() + "\n"
	}
	var changes []string
	if host != oldHost {
		changes = append(changes, fmt.Sprintf("IP changed from '%s' to '%s'", oldHost, host))
	}
	if port != oldPort {
		changes = append(changes, fmt.Sprintf("port changed from '%s' to '%s'", oldPort, port))
	}
	if len(changes) == 0 {
		return "no need to change the addr\n"
	}
	return strings.Join(changes, ", ") + " by 'stats socket command'\n"
}

func setWeight(srv *edge.Server, args []string) string {
	_, sv, msg := findServer(srv, args)
	if msg != "" {
		return msg
	}
	return setServerWeight(sv, args[1:])
}

func getWeight(srv *edge.Server, args []string) string {
	_, sv, msg := findServer(srv, args)
	if msg != "" {
		return msg
	}
	return fmt.Sprintf("%d (initial %d)\n", sv.Weight(), sv.InitialWeight())
}

func enableServer(srv *edge.Server, args []string) string {
	_, sv, msg := findServer(srv, args)
	if msg != "" {
		return msg
	}
	sv.SetReady()
	return ""
}

func disableServer(srv *edge.Server, args []string) string {
	_, sv, msg := findServer(srv, args)
	if msg != "" {
		return msg
	}
	sv.SetMaint()
	return ""
}

const addServerOptions = "weight <w>, maxconn <n>, backup, check, send-proxy, send-proxy-v2, no-send-proxy"

// addServer is "add server <bk>/<srv> <addr>:<port> [opts]": HAProxy's
// dynamic server, with the options luaedge's servers have.
func addServer(srv *edge.Server, args []string) string {
	if len(args) == 0 {
		return "Require 'backend/server'.\n"
	}
	be, name, ok := strings.Cut(args[0], "/")
	if !ok || be == "" || name == "" {
		return "Require 'backend/server'.\n"
	}
	if srv.Backend(be) == nil {
		return "No such backend.\n"
	}
	if len(args) < 2 {
		return "'server' expects <name> and <addr>[:<port>] as arguments.\n"
	}
	n := edge.NewServer{Name: name, Address: args[1]}
	for i := 2; i < len(args); i++ {
		switch kw := args[i]; kw {
		case "weight", "maxconn":
			if i+1 >= len(args) {
				return fmt.Sprintf("'%s' expects an integer argument.\n", kw)
			}
			v, err := strconv.Atoi(args[i+1])
			if err != nil || v < 0 {
				return fmt.Sprintf("'%s' expects an integer argument, not '%s'.\n", kw, args[i+1])
			}
			if kw == "weight" {
				if v > backend.MaxWeight {
					return fmt.Sprintf("weight of server %s is not within 0 and %d (%d).\n", name, backend.MaxWeight, v)
				}
				n.Weight = v
			} else {
				n.MaxConn = v
			}
			i++
		case "backup":
			n.Backup = true
		case "check":
			n.Check = true
		case "send-proxy":
			n.SendProxy = "v1"
		case "send-proxy-v2":
			n.SendProxy = "v2"
		case "no-send-proxy":
			n.SendProxy = "none"
		default:
			return fmt.Sprintf("'%s' is not supported by add server in luaedge; it takes %s (TLS follows the backend's tls).\n", kw, addServerOptions)
		}
	}
	if _, err := srv.AddServer(be, n); err != nil {
		switch {
		case errors.Is(err, backend.ErrServerExists):
			return "Already exists a server with the same name in backend.\n"
		case errors.Is(err, backend.ErrNoChecks):
			return fmt.Sprintf("'check': backend %s has no health checks (its check.type is not set).\n", be)
		}
		return fmt.Sprintf("Invalid server '%s': %v.\n", name, err)
	}
	return "New server registered.\n"
}

// delServer is "del server <bk>/<srv>".
func delServer(srv *edge.Server, args []string) string {
	be, sv, msg := findServer(srv, args)
	if msg != "" {
		return msg
	}
	err := srv.DelServer(be, sv.Name())
	switch {
	case err == nil:
		return "Server deleted.\n"
	case errors.Is(err, backend.ErrNotInMaint):
		return "Only servers in maintenance mode can be deleted.\n"
	case errors.Is(err, backend.ErrServerBusy):
		return "Server still has connections attached to it, cannot remove it.\n"
	case errors.Is(err, backend.ErrNoServer):
		return "No such server.\n"
	}
	return err.Error() + "\n"
}

// setHealth is "enable|disable health <bk>/<srv>": the server's active
// checks resume or stop (its health state stays).
func setHealth(enable bool) func(srv *edge.Server, args []string) string {
	return func(srv *edge.Server, args []string) string {
		_, sv, msg := findServer(srv, args)
		if msg != "" {
			return msg
		}
		if !sv.CheckState().Configured {
			if enable {
				return "Health check was not configured on this server, cannot enable.\n"
			}
			return "Health check was not configured on this server, cannot disable.\n"
		}
		if enable {
			sv.CheckEnable()
		} else {
			sv.CheckDisable()
		}
		return ""
	}
}

// age is a duration as HAProxy's show sess writes it.
func age(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s >= 86400:
		return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
	case s >= 3600:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	case s >= 60:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}

// proto is a connection's protocol as HAProxy names it.
func proto(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok && t.IP.To4() == nil {
		return "tcpv6"
	}
	return "tcpv4"
}

// showSess is "show sess [<id>|all]": a line per client connection, or
// the details of one (all: of each).
func showSess(srv *edge.Server, args []string) string {
	ctx, cancel := context.WithTimeout(context.Background(), loopsTimeout)
	defer cancel()
	list := srv.Sessions(ctx)
	var b strings.Builder
	detail := func(s edge.Session) {
		fmt.Fprintf(&b, "0x%x: [%s] id=%d proto=%s source=%s\n", s.ID, time.Now().Add(-s.Age).Format("02/Jan/2006:15:04:05"), s.ID, proto(s.Source), s.Source)
		fmt.Fprintf(&b, "  frontend=%s (mode=%s) loop=%d age=%s\n", s.Frontend, s.Mode, s.Loop, age(s.Age))
	}
	switch {
	case len(args) == 0:
		for _, s := range list {
			fmt.Fprintf(&b, "0x%x: proto=%s src=%s fe=%s mode=%s loop=%d age=%s\n", s.ID, proto(s.Source), s.Source, s.Frontend, s.Mode, s.Loop, age(s.Age))
		}
	case args[0] == "all":
		for _, s := range list {
			detail(s)
		}
	default:
		id, err := strconv.ParseInt(args[0], 0, 64)
		if err != nil {
			return "Session not found.\n"
		}
		for _, s := range list {
			if s.ID == id {
				detail(s)
				return b.String()
			}
		}
		return "Session not found.\n"
	}
	return b.String()
}
