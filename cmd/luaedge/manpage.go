package main

import (
	"fmt"
	"io"
	"strings"
)

// manCommand is "luaedge man": the manual page in roff, made from the
// same table and flag definitions as --help.
func manCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "luaedge man: unexpected argument %q\n", args[0])
		return exitUsage
	}
	writeMan(stdout)
	return exitOK
}

// roff escapes text for a roff line: backslashes, hyphens (which roff
// would typeset as hyphens, not minus signs) and a leading dot or quote.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func writeMan(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p(`.TH LUAEDGE 1 "" "luaedge %s" "User Commands"`, roff(version))
	p(".SH NAME")
	p(`luaedge \- a programmable edge server scripted in LuaJIT`)
	p(".SH SYNOPSIS")
	p(`.B luaedge`)
	p(`[\fB\-c\fR \fIFILE\fR]`)
	for _, c := range commands() {
		p(".br")
		p(`.B luaedge %s`, roff(c.name))
		for _, f := range flagsOf(c) {
			if isBool(f) {
				p(`[\fB%s\fR]`, roff(flagName(f)))
			} else {
				arg := strings.TrimPrefix(flagSyntax(f), flagName(f)+" ")
				p(`[\fB%s\fR \fI%s\fR]`, roff(flagName(f)), roff(arg))
			}
		}
		if c.args != "" {
			p(`\fI%s\fR`, roff(c.args))
		}
	}
	p(".SH DESCRIPTION")
	p("luaedge serves HTTP/1.1, HTTP/2 and TCP on an event loop per core, each with its own LuaJIT state running the operator's scripts.")
	p("Its YAML configuration is described in docs/config.md, the Lua API in docs/lua\\-api.md.")
	p(".SH COMMANDS")
	for _, c := range commands() {
		p(".TP")
		p(`.B %s`, roff(c.name))
		p("%s", roff(c.summary))
	}
	p(".SH OPTIONS")
	seen := map[string]bool{}
	for _, c := range commands() {
		for _, f := range flagsOf(c) {
			if seen[f.Name] {
				continue
			}
			seen[f.Name] = true
			p(".TP")
			p(`\fB%s\fR`, roff(flagSyntax(f)))
			p("%s (%s)", roff(flagUsage(f)), roff(commandsWith(f.Name)))
		}
	}
	p(".TP")
	p(`\fB\-h\fR, \fB\-\-help\fR`)
	p("print the help (of a command, after it)")
	p(".SH SIGNALS")
	p(".TP\n.B SIGTERM, SIGINT")
	p("stop accepting, let requests in flight finish for up to shutdown_timeout, then exit")
	p(".TP\n.B SIGHUP")
	p("reload the configuration and the scripts into a new generation; the old one drains")
	p(".SH EXIT STATUS")
	for _, e := range exitStatuses {
		p(".TP\n.B %d", e.code)
		p("%s", roff(e.what))
	}
	p(".SH ENVIRONMENT")
	p(".TP\n.B NOTIFY_SOCKET")
	p("set by systemd for Type=notify services: luaedge reports READY=1, RELOADING=1 and STOPPING=1 there")
	p(".TP\n.I NAME")
	p("${NAME} and ${NAME:\\-default} in configuration values are replaced with the environment variable's value")
}

// commandsWith lists the commands that take flag name.
func commandsWith(name string) string {
	var in []string
	for _, c := range commands() {
		for _, f := range flagsOf(c) {
			if f.Name == name {
				in = append(in, c.name)
			}
		}
	}
	return strings.Join(in, ", ")
}
