package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkTree compares a parsed file with the Config type before it is
// decoded, so that each mistake is reported on its own key, with its line
// (also inside a {...} flow map, where several keys share a line), and in
// the words of the file rather than of Go's types: an unknown key with
// the known one it is closest to, a list where one value was expected
// and the reverse, a word where a number was. It returns every problem.
func checkTree(doc *yaml.Node) []error {
	if doc == nil || len(doc.Content) == 0 {
		return nil
	}
	var errs []error
	checkNode(doc.Content[0], reflect.TypeOf(Config{}), "", &errs)
	return errs
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func checkNode(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := func(format string, a ...any) {
		*errs = append(*errs, fmt.Errorf("%s (line %d): %s", keyName(path), n.Line, fmt.Sprintf(format, a...)))
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // left out: the default
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		// The type reads itself (a size, a duration, access_log's "off"
		// or map): a scalar it does not take, or a node of another kind,
		// is its error to name.
		if n.Kind != yaml.ScalarNode && n.Kind != yaml.MappingNode {
			bad("expected %s, got %s", want(t, path), got(n))
			return
		}
		if err := reflect.New(t).Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			bad("%s", lineRE.ReplaceAllString(err.Error(), ""))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("expected %s, got %s", want(t, path), got(n))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // a merge key: its mapping's keys are this one's
				checkNode(v, t, path, errs)
				continue
			}
			p := joinKey(path, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("%s (line %d): unknown key", keyName(p), k.Line)
				if s := suggest(k.Value, fields); s != "" {
					msg += "; did you mean " + s + "?"
				} else {
					msg += "; known keys here: " + strings.Join(sortedKeys(fields), ", ")
				}
				*errs = append(*errs, fmt.Errorf("%s", msg))
				continue
			}
			checkNode(v, f, p, errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			bad("expected %s, got %s", want(t, path), got(n))
			return
		}
		for i, c := range n.Content {
			checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			bad("expected %s, got %s", want(t, path), got(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkNode(n.Content[i+1], t.Elem(), joinKey(path, n.Content[i].Value), errs)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			bad("expected %s, got %s", want(t, path), got(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			bad("expected %s, got %s", want(t, path), got(n))
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			bad("expected %s, got %s", want(t, path), got(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			bad("expected %s, got %s", want(t, path), got(n))
		}
	}
}

var lineRE = regexp.MustCompile(`^line \d+: `)

// keyName is a key's path as messages show it; the document itself is
// "the file".
func keyName(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps a struct's YAML keys to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			for k, v := range yamlFields(f.Type) { // its keys are the struct's own
				m[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// listNouns names what some lists hold, for "expected a list of ...".
var listNouns = map[string]string{
	"bind": "addresses", "load": "file names", "store": "data types",
	"http_request": "actions", "http_response": "actions", "tcp_request": "actions", "tcp_response": "actions",
	"frontends": "frontends (mappings with name, bind, ...)", "backends": "backends (mappings with name, servers, ...)",
	"servers": "servers (mappings with name, address, ...)", "routes": "routes (mappings with host, path_prefix, backend)",
	"hooks": "hook script names",
}

// want says in the file's words what a key of type t takes.
func want(t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeOf(Size(0)):
		return "a size (e.g. 65536, 64KiB, 16MiB)"
	case reflect.TypeOf(Duration(0)):
		return "a duration (e.g. 10s, 500ms)"
	}
	switch t.Kind() {
	case reflect.Struct:
		return "a mapping (key: value lines, or {key: value, ...})"
	case reflect.Slice:
		last := path
		if i := strings.LastIndexAny(path, ".]"); i >= 0 {
			last = path[i+1:]
		}
		if noun, ok := listNouns[last]; ok {
			return "a list of " + noun
		}
		return "a list of " + strings.TrimPrefix(want(t.Elem(), "")+"s", "a ")
	case reflect.Map:
		return "a mapping (name: value lines, or {name: value, ...})"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return "a string"
}

// got describes a node as the file has it.
func got(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!bool":
		return n.Value
	}
	return fmt.Sprintf("the string %q", n.Value)
}

// suggest returns the known key closest to key, or "" if none is close:
// the same once case and dashes are ignored, or within a few edits.
func suggest(key string, known map[string]reflect.Type) string {
	norm := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	best, bestD := "", len(key)/3+1
	if bestD > 3 {
		bestD = 3
	}
	for _, k := range sortedKeys(known) {
		if k == norm {
			return k
		}
		if d := editDistance(norm, k); d <= bestD && (best == "" || d < editDistance(norm, best)) {
			best = k
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
