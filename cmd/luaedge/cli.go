package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit statuses; docs/cli.md and the man page list them.
const (
	exitOK    = 0
	exitError = 1 // an invalid configuration or script, a start that failed, a failed admin command
	exitUsage = 2 // unknown command or flag, missing argument
	// exitScriptRunning (3, main.go): stopped with a Lua script still running.
)

// exitStatuses documents the exit statuses, for --help and the man page.
var exitStatuses = []struct {
	code int
	what string
}{
	{exitOK, "success; after SIGTERM or SIGINT, a graceful stop"},
	{exitError, "the configuration or a script is invalid, the server could not start, or an admin command failed"},
	{exitUsage, "unknown command or flag, or a missing argument"},
	{exitScriptRunning, "stopped with a Lua script still running after shutdown_timeout"},
}

// command is one of luaedge's subcommands. The help, the man page and the
// shell completion are generated from this table and the commands' flag
// definitions, so that they list what the parser accepts.
type command struct {
	name    string
	args    string // its arguments after the flags, for the synopsis
	summary string
	// flags defines its flags on fs (nil: none).
	flags func(fs *flag.FlagSet)
	// run runs it; nil for run and check, which main's run handles.
	run func(args []string, stdout, stderr io.Writer) int
	// words are what the shell completes after it (besides flags).
	words []string
}

// commands returns the subcommands, in the order help lists them.
func commands() []command {
	serveFlags := func(fs *flag.FlagSet) { defineFlags(fs) }
	return []command{
		{name: "run", summary: "run the configuration (the default command; without -c, the embedded demo on 127.0.0.1:8080)", flags: serveFlags},
		{name: "check", summary: "validate the configuration, its scripts (loaded, script_init and core.register_init run) and its binds, report every problem found, then exit", flags: serveFlags},
		{name: "convert", args: "-f haproxy.cfg [-f FILE...] [-o DIR]", summary: "print the YAML configuration equivalent to HAProxy configuration files (with -o, write it and the Lua compiled from their rules in DIR)", run: convertCommand},
		{name: "hooks", args: "init NAME", summary: "write a new hook script's folder (NAME under the hooks folder) with a few hooks to start from, and _annotations.lua for editors (docs/hooks.md)", flags: func(fs *flag.FlagSet) { defineHooksFlags(fs) }, run: hooksCommand, words: []string{"init"}},
		{name: "admin", args: "COMMAND [ARG...]", summary: "send COMMAND to a running luaedge's runtime socket (admin help lists the commands)", flags: func(fs *flag.FlagSet) { defineAdminFlags(fs) }, run: adminCommand},
		{name: "version", summary: "print the version", run: versionCommand},
		{name: "completion", args: "bash", summary: "print the shell completion script (source it, or install it as /usr/share/bash-completion/completions/luaedge)", run: completionCommand, words: []string{"bash"}},
		{name: "man", summary: "print the manual page (roff): luaedge man | man -l -", run: manCommand},
		{name: "help", args: "[COMMAND]", summary: "print this help, or a command's", run: helpCommand},
	}
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return &c
		}
	}
	return nil
}

// flagsOf returns the flags command c defines, sorted by name.
func flagsOf(c command) []*flag.Flag {
	if c.flags == nil {
		return nil
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.flags(fs)
	var out []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { out = append(out, f) })
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// flagName spells a flag as it is usually typed: -c, --version.
func flagName(f *flag.Flag) string {
	if len(f.Name) == 1 {
		return "-" + f.Name
	}
	return "--" + f.Name
}

// flagSyntax is a flag with its argument's name, if it takes one:
// "-c FILE", "--version".
func flagSyntax(f *flag.Flag) string {
	arg, _ := flag.UnquoteUsage(f)
	if isBool(f) {
		return flagName(f)
	}
	if arg == "" {
		arg = "VALUE"
	}
	return flagName(f) + " " + strings.ToUpper(arg)
}

func flagUsage(f *flag.Flag) string {
	_, usage := flag.UnquoteUsage(f)
	if !isBool(f) && f.DefValue != "" {
		usage += " (default " + f.DefValue + ")"
	}
	return usage
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// synopsis is a command's usage line.
func synopsis(c command) string {
	parts := []string{"luaedge", c.name}
	for _, f := range flagsOf(c) {
		parts = append(parts, "["+flagSyntax(f)+"]")
	}
	if c.args != "" {
		parts = append(parts, c.args)
	}
	return strings.Join(parts, " ")
}

// printHelp writes the help: every command with its flags, and the exit
// statuses.
func printHelp(w io.Writer) {
	fmt.Fprintf(w, "luaedge %s: a programmable edge server (HTTP/1.1, HTTP/2, TCP) scripted in LuaJIT\n\n", version)
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w, "  luaedge [-c FILE]   run FILE, or the embedded demo (as luaedge run)")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s\n", synopsis(c))
		fmt.Fprintf(w, "      %s\n", c.summary)
		for _, f := range flagsOf(c) {
			fmt.Fprintf(w, "      %-14s %s\n", flagSyntax(f), flagUsage(f))
		}
	}
	fmt.Fprintln(w, "\n  -h, --help          print this help")
	fmt.Fprintln(w, "\nSignals: SIGTERM and SIGINT stop gracefully; SIGHUP reloads the configuration and the scripts.")
	fmt.Fprintln(w, "\nExit status:")
	for _, e := range exitStatuses {
		fmt.Fprintf(w, "  %d  %s\n", e.code, e.what)
	}
}

// helpCommand is "luaedge help [COMMAND]".
func helpCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printHelp(stdout)
		return exitOK
	}
	c := findCommand(args[0])
	if c == nil || len(args) > 1 {
		fmt.Fprintf(stderr, "luaedge help: unknown command %q (luaedge --help lists them)\n", strings.Join(args, " "))
		return exitUsage
	}
	printCommandHelp(stdout, *c)
	return exitOK
}

func printCommandHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "usage: %s\n  %s\n", synopsis(c), c.summary)
	for _, f := range flagsOf(c) {
		fmt.Fprintf(w, "  %-14s %s\n", flagSyntax(f), flagUsage(f))
	}
}

// parseFlags parses a subcommand's flags: -h and --help print its help to
// stdout (status 0, done true); a bad flag is a usage error (status 2).
func parseFlags(fs *flag.FlagSet, c command, args []string, stdout, stderr io.Writer) (status int, done bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, "usage: %s   (luaedge help %s)\n", synopsis(c), c.name) }
	usage := fs.Usage
	fs.Usage = func() {} // -h is answered below; a bad flag gets the usage line
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(stdout, c)
			return exitOK, true
		}
		usage()
		return exitUsage, true
	}
	fs.Usage = usage
	return 0, false
}

func versionCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "luaedge version: unexpected argument %q\n", args[0])
		return exitUsage
	}
	fmt.Fprintln(stdout, "luaedge", version)
	return exitOK
}
