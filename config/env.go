package config

import (
	"fmt"
	"os"
	"regexp"

	"gopkg.in/yaml.v3"
)

// envRE matches ${NAME} and ${NAME:-default}, and $${ (a literal ${).
var envRE = regexp.MustCompile(`\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${NAME} and ${NAME:-default} in the values (not the
// keys) of a parsed file with the environment's: ${NAME:-default} takes
// default when NAME is unset or empty, as the shell does; ${NAME} with
// NAME unset is an error. A plain (unquoted) value is then read as if it
// had been written so: bind ports, numbers and booleans keep their type.
func expandEnv(n *yaml.Node, path string, errs *[]error) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			expandEnv(c, path, errs)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandEnv(n.Content[i+1], joinKey(path, n.Content[i].Value), errs)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandEnv(c, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case yaml.ScalarNode:
		if !envRE.MatchString(n.Value) {
			return
		}
		n.Value = envRE.ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$${" {
				return "${"
			}
			sub := envRE.FindStringSubmatch(m)
			v, set := os.LookupEnv(sub[1])
			switch {
			case sub[2] != "" && v == "":
				return sub[3]
			case !set:
				*errs = append(*errs, fmt.Errorf("%s (line %d): the environment variable %s is not set (${%s:-DEFAULT} gives a default)", keyName(path), n.Line, sub[1], sub[1]))
			}
			return v
		})
		if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			n.Tag = "" // resolved again from the new value
		}
	}
}
