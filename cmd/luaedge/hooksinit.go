package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"

	"github.com/luaedge/luaedge/config"
)

// hookAnnotations are the LuaLS annotations of the hook scripts' globals
// (examples/hooks/scripts/_annotations.lua is a link to this file).
//
//go:embed hooks/_annotations.lua
var hookAnnotations []byte

// defineHooksFlags defines the flags of hooks on fs.
func defineHooksFlags(fs *flag.FlagSet) *string {
	return fs.String("dir", config.DefaultHooksDir, "the `folder` of the hook scripts (hooks.dir)")
}

// The files a new script starts with: what each hook is for, and a
// working line or two to change.
var hookTemplates = []struct{ name, code string }{
	{"_shared.lua", `-- Loaded once per worker, before the hooks, into this script's own
-- globals: functions and state its hooks share. Globals set here or in a
-- hook are this script's only; other scripts do not see them.
served = 0
`},
	{"before_request.lua", `-- Before the request is processed (actions, service, backend). ctx.req
-- reads it, mut.req changes it; mut.resp.* and mut.ctx.set_finish()
-- answer it here instead.
log.debug("request", { method = ctx.req.method, path = ctx.req.path })
mut.req.set_header("x-request-id", ctx.id)
`},
	{"after_response.lua", `-- Once the response was handed to the client (it does not wait for this).
served = served + 1
log.info("served", { id = ctx.id, status = ctx.resp.status_code, served = served })
`},
	{"error.lua", `-- When another hook of this script fails: err.msg says why.
log.warn("hook failed", { hook = err.hook, msg = err.msg })
`},
}

// hooksCommand is "luaedge hooks init [-dir DIR] NAME": a new script's
// folder with a few hooks to start from, and the annotations beside it.
func hooksCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("luaedge hooks", flag.ContinueOnError)
	dir := defineHooksFlags(fs)
	// "hooks init -dir DIR NAME" as well as "hooks -dir DIR init NAME".
	init := len(args) > 0 && args[0] == "init"
	if init {
		args = args[1:]
	}
	if status, done := parseFlags(fs, *findCommand("hooks"), args, stdout, stderr); done {
		return status
	}
	rest := fs.Args()
	if !init && len(rest) > 0 && rest[0] == "init" {
		init, rest = true, rest[1:]
	}
	if !init || len(rest) != 1 {
		fs.Usage()
		return exitUsage
	}
	name := rest[0]
	if !config.ValidHookName(name) {
		fmt.Fprintf(stderr, "luaedge hooks init: %q: a script's name is its folder's: letters, digits, '_', '.', '-', not starting with '_' or '.'\n", name)
		return exitUsage
	}
	folder := filepath.Join(*dir, name)
	if _, err := os.Stat(folder); err == nil {
		fmt.Fprintf(stderr, "luaedge hooks init: %s exists already; nothing written\n", folder)
		return exitError
	} else if !errors.Is(err, iofs.ErrNotExist) {
		fmt.Fprintln(stderr, "luaedge hooks init:", err)
		return exitError
	}
	if err := writeHookScript(*dir, folder); err != nil {
		fmt.Fprintln(stderr, "luaedge hooks init:", err)
		return exitError
	}
	fmt.Fprintf(stdout, "wrote %s/ (", folder)
	for i, t := range hookTemplates {
		if i > 0 {
			fmt.Fprint(stdout, ", ")
		}
		fmt.Fprint(stdout, t.name)
	}
	fmt.Fprintf(stdout, ") and %s\n", filepath.Join(*dir, "_annotations.lua"))
	fmt.Fprintf(stdout, "enable it in the configuration (docs/hooks.md):\n\nhooks:\n  dir: %s\n  scripts:\n    %s: {enabled: true, priority: 0}\n", *dir, name)
	return exitOK
}

// writeHookScript writes the templates into folder, and the annotations
// into dir (replacing older ones: they describe this luaedge).
func writeHookScript(dir, folder string) error {
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return err
	}
	for _, t := range hookTemplates {
		if err := os.WriteFile(filepath.Join(folder, t.name), []byte(t.code), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "_annotations.lua"), hookAnnotations, 0o644)
}
