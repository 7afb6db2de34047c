package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// readDoc parses a configuration file's text: its ${NAME} values
// expanded, its keys checked (checkTree), and the files its include key
// names merged into it. dir is the file's folder, where include paths
// start; stack holds the files being read, against include cycles. It
// returns nil for an empty file, and every problem found.
func readDoc(data []byte, dir string, stack []string) (*yaml.Node, []error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, []error{errors.New(strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	var errs []error
	expandEnv(&doc, "", &errs)
	includes, err := takeIncludes(doc.Content[0])
	if err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkTree(&doc)...)
	for _, inc := range includes {
		files, err := includeFiles(dir, inc)
		if err != nil {
			errs = append(errs, fmt.Errorf("include (line %d): %v", inc.Line, err))
			continue
		}
		for _, f := range files {
			errs = append(errs, includeFile(doc.Content[0], dir, f, stack)...)
		}
	}
	return &doc, errs
}

// takeIncludes removes the include key from the top mapping and returns
// its values: a file, a folder or a glob pattern, or a list of them.
func takeIncludes(root *yaml.Node) ([]*yaml.Node, error) {
	if root.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "include" {
			continue
		}
		v := root.Content[i+1]
		root.Content = append(root.Content[:i:i], root.Content[i+2:]...)
		switch {
		case v.Kind == yaml.ScalarNode:
			return []*yaml.Node{v}, nil
		case v.Kind == yaml.SequenceNode:
			for _, c := range v.Content {
				if c.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("include (line %d): expected a list of files and folders, got %s", c.Line, got(c))
				}
			}
			return v.Content, nil
		}
		return nil, fmt.Errorf("include (line %d): expected a file, a folder or a list of them, got %s", v.Line, got(v))
	}
	return nil, nil
}

// includeFiles lists what one include value names: the file; the .yaml
// and .yml files of a folder, in name order; the files a glob matches.
func includeFiles(dir string, inc *yaml.Node) ([]string, error) {
	p := inc.Value
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if strings.ContainsAny(inc.Value, "*?[") {
		files, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", inc.Value, err)
		}
		return files, nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, filepath.Join(p, e.Name()))
		}
	}
	sort.Strings(files)
	return files, nil
}

// includeFile reads file and merges it into root; its problems are named
// "include FILE: ...".
func includeFile(root *yaml.Node, dir, file string, stack []string) []error {
	name := file
	if rel, err := filepath.Rel(dir, file); err == nil && !strings.HasPrefix(rel, "..") {
		name = rel
	}
	abs, _ := filepath.Abs(file)
	for _, s := range stack {
		if s == abs {
			return []error{fmt.Errorf("include %s: included again by a file it includes (an include cycle)", name)}
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return []error{fmt.Errorf("include %s: %v", name, err)}
	}
	doc, errs := readDoc(data, filepath.Dir(file), append(stack, abs))
	if doc != nil && len(errs) == 0 {
		errs = mergeInto(root, doc.Content[0], "")
	}
	for i, e := range errs {
		errs[i] = fmt.Errorf("include %s: %w", name, e)
	}
	return errs
}

// mergeInto adds an included file's mapping to dst: its lists are
// appended to the same lists (frontends, backends, lua.load ...), its
// mappings merged key by key; a single value set in both is an error.
func mergeInto(dst, src *yaml.Node, path string) []error {
	var errs []error
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		p := joinKey(path, k.Value)
		j := 0
		for ; j+1 < len(dst.Content); j += 2 {
			if dst.Content[j].Value == k.Value {
				break
			}
		}
		if j+1 >= len(dst.Content) {
			dst.Content = append(dst.Content, k, v)
			continue
		}
		d := dst.Content[j+1]
		switch {
		case d.Kind == yaml.SequenceNode && v.Kind == yaml.SequenceNode:
			d.Content = append(d.Content, v.Content...)
		case d.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode:
			errs = append(errs, mergeInto(d, v, p)...)
		default:
			errs = append(errs, fmt.Errorf("%s (line %d): already set by the including file or an earlier include (only lists and mappings are merged)", p, k.Line))
		}
	}
	return errs
}
