package main

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestExamples runs `luaedge check -c examples/NAME/luaedge.yaml` in-process
// for every example, so that a change that breaks one fails the tests.
func TestExamples(t *testing.T) {
	configs, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "luaedge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(configs) == 0 {
		t.Fatal("no examples/*/luaedge.yaml found")
	}
	for _, path := range configs {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			var out bytes.Buffer
			if code := run([]string{"check", "-c", path}, &out, &out); code != 0 {
				t.Fatalf("luaedge check -c %s: exit status %d\n%s", path, code, out.String())
			}
		})
	}
}
