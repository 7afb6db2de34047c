# luaedge: `make run` builds and runs the embedded demo; `make test` installs
# what the tests need and runs them; `make bench` compares with the peers.
SHELL    := /bin/bash
.SHELLFLAGS := -eo pipefail -c
export PATH := $(PATH):/usr/local/go/bin
GO       ?= go
BIN      := bin/luaedge
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# A fully static binary: LuaJIT's static archive, Go's own resolver.
# Not gnet's gc_opt tag: its fd table allocates a 512 KiB row again each
# time a loop goes from no connection to one (a third of a TLS handshake's
# CPU when clients come one at a time); its map costs 0.6 % of a proxied
# request instead.
TAGS     := netgo,osusergo
LDFLAGS  := -s -w -X main.version=$(VERSION) -linkmode external -extldflags "-static"
export CGO_ENABLED := 1
export CGO_LDFLAGS := -lm -ldl
# go's build cache does not see a C library change: naming the LuaJIT build
# (third_party/luajit/out/stamp, read when each command runs, after deps)
# in the C flags rebuilds the cgo package and relinks when it changes.
export CGO_CFLAGS = -O2 -g '-DLUAEDGE_LUAJIT="$(file <third_party/luajit/out/stamp)"'
# Every package but the binary's is race-checked, the event loops included
# (edge's tests run a server in the test process), with the invariants
# tag: a connection holding output between two handlers panics. The
# end-to-end tests run the built binary; their package takes close to go
# test's default 10-minute limit on two busy cores, hence -timeout.
RACE_PKGS = $$($(GO) list ./... | grep -v /cmd/)

.PHONY: all build check-build run test bench deps fuzz vet clean install

all: build

# The build tools, then LuaJIT built from Debian's source package
# (third_party/luajit/build.sh; quick when already built).
deps:
	@bash third_party/install-deps.sh build
	@bash third_party/luajit/build.sh

# The linker warns that LuaJIT's ffi.load needs shared libraries at run
# time; ffi.load is not used, so the warning is filtered.
LINK_FILTER := { grep -v -e "Using 'dlopen' in statically linked" -e "in function .lj_cf_ffi_load" -e "^\# github.com/luaedge" || true; }

build: deps
	$(GO) build -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/luaedge 2>&1 | $(LINK_FILTER)

# The end-to-end tests run a build with the invariants tag: a connection
# that enters a handler still holding output bytes panics.
CHECK_BIN := bin/luaedge-invariants
check-build: deps
	$(GO) build -tags $(TAGS),invariants -ldflags '$(LDFLAGS)' -o $(CHECK_BIN) ./cmd/luaedge 2>&1 | $(LINK_FILTER)

run: build
	./$(BIN)

vet: deps
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: build check-build vet
	@bash third_party/install-deps.sh test
	$(GO) test -count=1 -timeout 30m -race -tags invariants $(RACE_PKGS)
	PATH=$$PATH:$(CURDIR)/third_party/tools/bin LUAEDGE_BIN=$(CURDIR)/$(CHECK_BIN) $(GO) test -count=1 -timeout 30m ./cmd/...

# Runs each fuzz target for FUZZTIME (plain `go test` runs the seed corpus).
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./proto/http1 -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/http1 -run '^$$' -fuzz '^FuzzChunked$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/http1 -run '^$$' -fuzz '^FuzzParseResponse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/http2 -run '^$$' -fuzz '^FuzzFrame$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/http2 -run '^$$' -fuzz '^FuzzConn$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/http2 -run '^$$' -fuzz '^FuzzClientConn$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/ws -run '^$$' -fuzz '^FuzzFrame$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/ws -run '^$$' -fuzz '^FuzzMessage$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/ws -run '^$$' -fuzz '^FuzzInflate$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/ws -run '^$$' -fuzz '^FuzzNegotiate$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/proxyproto -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/httpenc -run '^$$' -fuzz '^FuzzNegotiate$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/httpenc -run '^$$' -fuzz '^FuzzEncode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto/socks -run '^$$' -fuzz '^FuzzParseReply$$' -fuzztime $(FUZZTIME)

bench: build
	bash bench/run.sh

# `make install` (PREFIX, DESTDIR as usual): the binary, the man page, the
# bash completion and the systemd unit (packaging/luaedge.service, with
# its paths), all made by the binary just built.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/luaedge
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(BASHCOMPDIR)
	./$(BIN) man > $(DESTDIR)$(MANDIR)/man1/luaedge.1
	./$(BIN) completion bash > $(DESTDIR)$(BASHCOMPDIR)/luaedge
	sed 's|@BINDIR@|$(BINDIR)|g' packaging/luaedge.service > $(DESTDIR)$(UNITDIR)/luaedge.service
	chmod 0644 $(DESTDIR)$(MANDIR)/man1/luaedge.1 $(DESTDIR)$(BASHCOMPDIR)/luaedge $(DESTDIR)$(UNITDIR)/luaedge.service

clean:
	rm -rf bin
