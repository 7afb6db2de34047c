package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/luaedge/luaedge/config"
	"github.com/luaedge/luaedge/config/haproxycfg"
	"github.com/luaedge/luaedge/lj"
)

// source is where the configuration comes from: a YAML file (-c), the
// embedded demo (neither), or HAProxy configuration files (-f).
type source struct {
	yaml    string
	haproxy []string
}

// name prefixes errors about the whole configuration: the YAML file's
// path ("" otherwise: haproxy.cfg errors name their file and line).
func (s source) name() string { return s.yaml }

// loadHAProxy reads haproxy.cfg files and their scripts. The generated
// prelude loads before the scripts of lua-load, the generated rules
// after them.
func loadHAProxy(paths []string) (*config.Config, []lj.Script, []string, error) {
	res, err := haproxycfg.Load(paths)
	if err != nil {
		return nil, nil, nil, err
	}
	user, err := lj.ReadScripts(res.Config.Dir, res.Config.Lua.Load)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("lua-load: %w", err)
	}
	scripts := append([]lj.Script{{Path: haproxycfg.PreludeName, Code: res.Prelude}}, user...)
	scripts = append(scripts, lj.Script{Path: haproxycfg.RulesName, Code: res.Rules})
	return res.Config, scripts, res.Warnings, nil
}

// haproxyArgs reads HAProxy's command line: -f FILE (several allowed),
// -db (stay in the foreground: luaedge always does), -c (check the
// configuration and exit), -q (quiet). It returns the files and whether
// -c was given.
func haproxyArgs(args []string) (files []string, checkOnly bool, err error) {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-f":
			if i+1 >= len(args) {
				return nil, false, fmt.Errorf("-f needs a file")
			}
			files = append(files, args[i+1])
			i++
		case strings.HasPrefix(a, "-f") && len(a) > 2:
			files = append(files, a[2:])
		case a == "-db" || a == "-q":
		case a == "-c":
			checkOnly = true
		default:
			return nil, false, fmt.Errorf("%s: with -f, luaedge takes HAProxy's options -f FILE, -db, -c and -q only", a)
		}
	}
	return files, checkOnly, nil
}

// usesHAProxy reports whether the command line is HAProxy's (it names a
// configuration with -f).
func usesHAProxy(args []string) bool {
	for _, a := range args {
		if a == "-f" || (strings.HasPrefix(a, "-f") && !strings.HasPrefix(a, "--")) {
			return true
		}
	}
	return false
}

// convertCommand is "luaedge convert -f haproxy.cfg [-f ...] [-o DIR]":
// it prints the equivalent YAML configuration. With -o it writes it to
// DIR/luaedge.yaml with the generated Lua beside it.
func convertCommand(args []string, stdout, stderr io.Writer) int {
	var files []string
	out := ""
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-f" && i+1 < len(args):
			files = append(files, args[i+1])
			i++
		case args[i] == "-o" && i+1 < len(args):
			out = args[i+1]
			i++
		default:
			fmt.Fprintln(stderr, "usage: luaedge convert -f haproxy.cfg [-f FILE...] [-o DIR]")
			return 2
		}
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "usage: luaedge convert -f haproxy.cfg [-f FILE...] [-o DIR]")
		return 2
	}
	res, err := haproxycfg.Load(files)
	if err != nil {
		fmt.Fprintln(stderr, "luaedge:", err)
		return 1
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, "luaedge: warning:", w)
	}
	cfg := *res.Config
	dir := out
	if dir == "" {
		dir = "."
	}
	absOut, err := filepath.Abs(dir)
	if err != nil {
		fmt.Fprintln(stderr, "luaedge:", err)
		return 1
	}
	// The scripts' paths, relative to where the YAML file goes.
	var load []string
	load = append(load, "haproxycfg-prelude.lua")
	for _, p := range cfg.Lua.Load {
		if !filepath.IsAbs(p) {
			p = filepath.Join(cfg.Dir, p)
		}
		if rel, err := filepath.Rel(absOut, p); err == nil {
			p = rel
		}
		load = append(load, p)
	}
	load = append(load, "haproxycfg-rules.lua")
	cfg.Lua.Load = load
	var doc yaml.Node
	if err := doc.Encode(&cfg); err != nil {
		fmt.Fprintln(stderr, "luaedge:", err)
		return 1
	}
	prune(&doc)
	data, err := yaml.Marshal(&doc)
	if err != nil {
		fmt.Fprintln(stderr, "luaedge:", err)
		return 1
	}
	header := "# Converted from " + strings.Join(files, ", ") + " by luaedge convert.\n" +
		"# haproxycfg-prelude.lua and haproxycfg-rules.lua hold the rules and ACLs\n" +
		"# compiled to Lua"
	if out == "" {
		header += " (luaedge convert -o DIR writes them).\n"
		fmt.Fprint(stdout, header+string(data))
		return 0
	}
	header += ".\n"
	if err := os.MkdirAll(out, 0o755); err != nil {
		fmt.Fprintln(stderr, "luaedge:", err)
		return 1
	}
	for name, content := range map[string][]byte{
		"luaedge.yaml":           []byte(header + string(data)),
		"haproxycfg-prelude.lua": res.Prelude,
		"haproxycfg-rules.lua":   res.Rules,
	} {
		if err := os.WriteFile(filepath.Join(out, name), content, 0o644); err != nil {
			fmt.Fprintln(stderr, "luaedge:", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(out, "luaedge.yaml"))
	return 0
}

// defaultTrue are the configuration's keys whose default is true.
var defaultTrue = map[string]bool{"compat53": true, "date_header": true, "deflate": true, "enabled": true}

// prune removes the keys left at their zero value (which the YAML reader
// reads as "the default"), so that the converted file shows what the
// HAProxy configuration said. The keys of a *bool whose default is true
// keep their false.
func prune(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.MappingNode:
		var kept []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if defaultTrue[k.Value] && v.Value == "false" || !prune(v) {
				kept = append(kept, n.Content[i], n.Content[i+1])
			}
		}
		n.Content = kept
		return len(kept) == 0
	case yaml.SequenceNode:
		for _, c := range n.Content {
			prune(c)
		}
		return len(n.Content) == 0
	case yaml.ScalarNode:
		return n.Tag == "!!null" || n.Value == "" || n.Value == "0" || n.Value == "0s" || n.Value == "false"
	}
	return false
}
