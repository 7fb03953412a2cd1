# ksef-sync — see README.md. Every target works on a fresh machine with only Go installed.
GO      ?= go
BIN     ?= bin/ksef-sync
PKGS    := ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# Release builds: version and commit stamped (`ksef-sync version`), no local paths, no symbols.
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
# An MSI's ProductVersion is numeric and must grow from release to release.
MSI_VERSION ?= $(shell v=$$(git describe --tags --abbrev=0 2>/dev/null | sed -n 's/^v\{0,1\}\([0-9]*\.[0-9]*\.[0-9]*\)$$/\1/p'); \
	echo $${v:-0.1.$$(git rev-list --count HEAD 2>/dev/null || echo 0)})
FUZZTIME ?= 20s

.PHONY: all build test test-windows race bench demo fuzz lint cross msi clean

all: build

build:
	$(GOBUILD) -o $(BIN) ./cmd/ksef-sync

# The test suite: unit, simulator and end-to-end tests, with the race detector. The timeout only
# catches a hang: on a 2-core machine shared with other work cmd/ksef-sync alone took 17 min.
test:
	$(GO) test -race -count=1 -timeout 40m $(PKGS)

# Micro-benchmarks run for the default time; the end-to-end ones (real binary against the
# simulator at production rate limits, default configuration) run once each and end in one table
# (.ci/benchtable.awk), the one README's performance section shows.
# The end-to-end benchmarks (the product's figures) run first: the package benchmarks create and
# delete tens of thousands of files, and on ext4 without a journal that makes the next minutes'
# file creations cost several times more CPU (README, Performance). Their table is printed last.
bench:
	@mkdir -p bin
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./cmd/ksef-sync/ > bin/bench-e2e.txt; \
	  e2e=$$?; \
	  $(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./ksef/... ./spool/... ./watcher/... ./internal/...; \
	  pkgs=$$?; cat bin/bench-e2e.txt; awk -f .ci/benchtable.awk bin/bench-e2e.txt; \
	  test $$e2e -eq 0 && test $$pkgs -eq 0

# A short fuzzing pass over every Fuzz target (the seed corpora also run in `make test`).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)

cross:
	GOOS=windows GOARCH=amd64 $(GOBUILD) -o bin/ksef-sync.exe ./cmd/ksef-sync
	GOOS=linux GOARCH=amd64 $(GOBUILD) -o bin/ksef-sync-linux-amd64 ./cmd/ksef-sync

# The Windows build for real (needs root: a cached Debian 13 root with Wine, see .ci/wine-root.sh):
# every package's Windows tests, an end-to-end run, the service and the MSI, under Wine.
test-windows:
	bash .ci/test-windows.sh

# bin/ksef-sync-$(MSI_VERSION)-x64.msi (and a copy as bin/ksef-sync.msi) from install/ksef-sync.wxs,
# built with wixl and msibuild (Debian: wixl, msitools).
msi: cross
	@command -v wixl >/dev/null && command -v msibuild >/dev/null || { echo "make msi needs wixl and msibuild: apt-get install wixl msitools"; exit 1; }
	wixl -a x64 -D Version=$(MSI_VERSION) -D SourceDir=. -o bin/ksef-sync-$(MSI_VERSION)-x64.msi install/ksef-sync.wxs
	@# wixl knows no Permanent components: mark state, logs and secrets so uninstall keeps them.
	msibuild bin/ksef-sync-$(MSI_VERSION)-x64.msi -q "UPDATE Component SET Attributes = 272 \
	  WHERE Component = 'StateDir' OR Component = 'LogsDir' OR Component = 'SecretsDir'"
	cp bin/ksef-sync-$(MSI_VERSION)-x64.msi bin/ksef-sync.msi

# Quick start: simulator + daemon on a generated config in ./demo, sample invoices in, results out.
demo: build
	./$(BIN) demo -dir demo

clean:
	rm -rf bin demo
