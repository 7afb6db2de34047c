package lj

import (
	"errors"
	"strings"
)

// CLI is a runtime-socket command a script registered with
// core.register_cli: its words and the usage line help shows.
type CLI struct {
	Path  []string
	Usage string
}

// CLIs returns the commands the scripts registered, in registration
// order; the i-th (from 1) runs with EntryCLI and argument i. Put the
// command's words in the stream's target, separated by NUL bytes
// (CLIWords), before resuming it.
func (s *State) CLIs() ([]CLI, error) {
	out, err := s.L.EvalInternal("return (...).cli_list()", "=luaedge/clis")
	if err != nil {
		return nil, err
	}
	parts := strings.Split(out, "\x00")
	if len(parts)%2 != 1 || parts[len(parts)-1] != "" {
		return nil, errors.New("luaedge: a malformed list of CLI commands")
	}
	var clis []CLI
	for i := 0; i+1 < len(parts); i += 2 {
		clis = append(clis, CLI{Path: strings.Split(parts[i], " "), Usage: parts[i+1]})
	}
	return clis, nil
}

// CLIWords is how a command's words reach its function: the stream's
// target holds them separated by NUL bytes (they cannot hold one).
func CLIWords(words []string) []byte {
	return []byte(strings.Join(words, "\x00"))
}
