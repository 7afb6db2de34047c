package main

import (
	"fmt"
	"io"
	"strings"
)

// completionCommand is "luaedge completion bash": a bash completion
// script for the commands and flags of the same table as --help.
func completionCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] != "bash" {
		fmt.Fprintln(stderr, "usage: luaedge completion bash")
		return exitUsage
	}
	writeBashCompletion(stdout)
	return exitOK
}

func writeBashCompletion(w io.Writer) {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	top := append(append([]string{}, names...), "-c", "--version", "--help")
	var b strings.Builder
	b.WriteString("# bash completion for luaedge (luaedge completion bash)\n")
	b.WriteString("_luaedge() {\n")
	b.WriteString("\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= i\n")
	b.WriteString("\tfor ((i = 1; i < COMP_CWORD; i++)); do\n")
	fmt.Fprintf(&b, "\t\tcase ${COMP_WORDS[i]} in %s) cmd=${COMP_WORDS[i]}; break ;; esac\n", strings.Join(names, "|"))
	b.WriteString("\tdone\n")
	// A flag that takes a value is followed by a file name.
	var valued []string
	for _, c := range commands() {
		for _, f := range flagsOf(c) {
			if !isBool(f) {
				valued = append(valued, flagName(f))
			}
		}
	}
	fmt.Fprintf(&b, "\tcase $prev in %s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;; esac\n", strings.Join(dedup(valued), "|"))
	b.WriteString("\tcase $cmd in\n")
	fmt.Fprintf(&b, "\t'') COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", strings.Join(top, " "))
	for _, c := range commands() {
		words := append([]string{}, c.words...)
		for _, f := range flagsOf(c) {
			words = append(words, flagName(f))
		}
		if c.flags != nil {
			words = append(words, "--help")
		}
		if c.name == "help" {
			words = names
		}
		fmt.Fprintf(&b, "\t%s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", c.name, strings.Join(words, " "))
	}
	b.WriteString("\tesac\n}\ncomplete -F _luaedge luaedge\n")
	io.WriteString(w, b.String())
}

func dedup(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
