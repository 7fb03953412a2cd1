# ksef-sync — see README.md. Every target works on a fresh machine with only Go installed.
GO      ?= go
BIN     ?= bin/ksef-sync
PKGS    := ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 20s

.PHONY: all build test race bench demo fuzz lint cross clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ksef-sync

# The test suite: unit, simulator and end-to-end tests, with the race detector.
test:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# Micro-benchmarks run for the default time; the end-to-end ones (real binary against the
# simulator at production rate limits) run once each.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./ksef/... ./spool/... ./watcher/... ./internal/...
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./cmd/ksef-sync/

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
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) build -o bin/ksef-sync.exe ./cmd/ksef-sync
	GOOS=linux GOARCH=amd64 CGO_ENABLED=0 $(GO) build -o bin/ksef-sync-linux-amd64 ./cmd/ksef-sync

# Quick start: simulator + daemon on a generated config in ./demo, sample invoices in, results out.
demo: build
	./$(BIN) demo -dir demo

clean:
	rm -rf bin demo
