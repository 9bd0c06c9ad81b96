# Use Pod Agent. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/usepod-agent
# packaging.mk reads VERSION from FyneApp.toml (the one place it is set)
# and gives VERSION_LDFLAGS, which stamps it into the binary.
include packaging/packaging.mk
# The engine and CLI build without cgo/Fyne under this tag.
HEADLESS_TAGS := nogui
# FyneApp.toml declares the fyne.Do migration; builds say so too.
GUI_TAGS := migrated_fynedo

.DEFAULT_GOAL := help
.PHONY: help deps build build-headless run test test-go test-fuzz test-packaging bench demo demo-replay clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

deps: ## install the system packages the build and tests need (Debian/Ubuntu; asks for sudo when not root)
	@packaging/scripts/deps.sh

build: deps ## build the desktop app into bin/usepod-agent
	$(GO) build -tags $(GUI_TAGS) -ldflags "$(VERSION_LDFLAGS)" -o $(BIN) .

build-headless: ## build the agent without the desktop UI (no cgo needed)
	CGO_ENABLED=0 $(GO) build -tags $(HEADLESS_TAGS) -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)-headless .

run: build ## set up, build and open the desktop app
	./$(BIN)

test: deps test-go test-fuzz test-packaging ## set up and run every test (vet, race tests, fuzz, keychain, desktop end-to-end, packages)

test-go:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 10m ./...

test-fuzz: ## a short fuzz run of the inbound frame decoder and the SSE scanner
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 10s ./core/coordinator/
	$(GO) test -run '^$$' -fuzz '^FuzzSSE$$' -fuzztime 10s ./core/backend/

test-packaging: ## build the Linux and Windows packages and check them
	$(MAKE) package-linux package-windows package-check

bench: ## relay benchmarks against a direct client (see BENCHMARKS.md)
	$(GO) test -run '^$$' -bench 'Paced|256|Unpaced' -benchtime 5x ./core/relaybench/
	$(GO) test -run '^$$' -bench 'TimeToFirst' -benchtime 100x ./core/relaybench/
	$(GO) test -run '^$$' -bench 'Idle' -benchtime 4x ./core/relaybench/
	$(GO) test -run '^$$' -bench . -benchtime 2s ./core/ledger/ ./core/backend/

demo: build-headless ## run the agent against a local coordinator that dispatches a job every few seconds
	@packaging/scripts/demo.sh

demo-replay: build-headless ## the demo with a replayed llama.cpp server, for machines without an inference server
	@DEMO_REPLAY=1 packaging/scripts/demo.sh

clean: ## remove build outputs
	rm -rf bin dist

