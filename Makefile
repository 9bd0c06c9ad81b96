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

# go-nvml (core/telemetry) is generated cgo that calls every NVML function,
# including the ones nvml.h marks deprecated: each build of it prints about
# 150 lines of -Wdeprecated-declarations warnings, which drown real ones. A
# dependency's #cgo flags cannot be changed, so the targets that compile it
# add the one flag through CGO_CFLAGS (keeping Go's default -O2 -g, or the
# caller's own CGO_CFLAGS). Every other warning stays on.
QUIET_CGO_CFLAGS := $(or $(CGO_CFLAGS),-O2 -g) -Wno-deprecated-declarations
build lint test-go test-fuzz bench bench-desktop pkg-linux-stage: export CGO_CFLAGS := $(QUIET_CGO_CFLAGS)

# Tools the tests need, built once at a pinned version into an ignored
# cache folder (a version bump builds the new one beside the old).
TOOLS := $(CURDIR)/.cache/tools
HELM_VERSION := v3.22.0
HELM := $(TOOLS)/helm-$(HELM_VERSION)/helm
CHART := deploy/helm/usepod-agent

# staticcheck, pinned like helm. It checks both builds in one run
# (-matrix): the desktop one (GUI_TAGS) and the headless one (HEADLESS_TAGS).
# A finding says which builds have it, and code that only one build uses is
# not reported as unused, as it would be by a run per build. The headless
# run keeps cgo on (./... holds ui/, which needs it), so the files only a
# cgo-less or another system's build compiles are not checked. The default
# checks apply; a finding that is meant is kept with a //lint:ignore line
# that says why.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)/staticcheck
# gofmt of the Go that builds the tree, so both agree on the format.
GOFMT = $(shell $(GO) env GOROOT)/bin/gofmt

IMAGE ?= usepod-agent:$(VERSION)

.DEFAULT_GOAL := help
.PHONY: help deps build build-headless run lint test test-go test-fuzz test-packaging test-helm test-windows test-workflows tools image bench bench-desktop bench-procs demo demo-replay clean

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

test: deps lint test-go test-fuzz test-packaging test-helm test-windows test-workflows ## set up and run every test (gofmt and staticcheck, vet, race tests, fuzz, keychain, desktop end-to-end, packages, Helm chart, the .exe under wine, CI workflows)

# The chart's Go tests (deploy/helm) run here too, with the pinned helm.
test-go: $(HELM)
	$(GO) vet ./...
	USEPOD_HELM=$(HELM) $(GO) test -race -count=1 -timeout 10m ./...
	@echo "Not run on this machine (they need a real Windows or macOS; the CI workflow runs them with -tags realos):"
	@$(GO) test -count=1 -run '^TestRealOSOnly$$' -v $$(grep -rl --include='*_test.go' --exclude-dir=.cache 'func TestRealOSOnly' . | xargs -n1 dirname | sort -u) \
		| sed -n 's/^.*: not run here: /  /p'

test-fuzz: ## a short fuzz run of the inbound frame decoder and the SSE scanner
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 10s ./core/coordinator/
	$(GO) test -run '^$$' -fuzz '^FuzzSSE$$' -fuzztime 10s ./core/backend/

test-packaging: ## build the Linux and Windows packages and check them
	$(MAKE) package-linux package-windows package-check

test-helm: $(HELM) ## lint and render the Helm chart, and test the rendered objects
	$(HELM) lint --strict $(CHART) -f $(CHART)/ci/standalone-values.yaml
	$(HELM) lint --strict $(CHART) -f $(CHART)/ci/sidecar-values.yaml
	$(HELM) template usepod-agent $(CHART) -f $(CHART)/ci/sidecar-values.yaml >/dev/null
	USEPOD_HELM=$(HELM) $(GO) test -count=1 ./deploy/helm/

tools: $(HELM) $(STATICCHECK) ## build the pinned tools the tests need into .cache/tools

$(HELM):
	@echo "building helm $(HELM_VERSION) into $(dir $@) (once; a few minutes)"
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

$(STATICCHECK):
	@echo "building staticcheck $(STATICCHECK_VERSION) (2026.2.2) into $(dir $@) (once; a minute or two)"
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK) ## gofmt and staticcheck, over the desktop and the headless build
	@unformatted=$$($(GOFMT) -l $$(find . -path ./.cache -prune -o -name '*.go' -print)); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-ed (run gofmt -w on them):"; echo "$$unformatted"; exit 1; fi
	printf 'desktop: -tags=$(GUI_TAGS)\nheadless: -tags=$(HEADLESS_TAGS)\n' | $(STATICCHECK) -matrix ./...

image: ## build the headless agent's container image with podman or docker (IMAGE_REQUIRED=1: fail when neither can)
	@IMAGE=$(IMAGE) VERSION=$(VERSION) packaging/scripts/image.sh

# The packaged .exe under wine (Debian's wine 8), in a wine prefix of its
# own under .cache/winetest: serving, keys, the named pipe, tray, dashboard,
# start at login, the service definition. packaging/winetest says how.
test-windows: deps package-windows ## run the packaged Windows .exe under wine and Xvfb (about a minute warm)
	USEPOD_WINE_EXE='$(abspath $(WIN_EXE))' $(GO) test -tags wine -count=1 -v -timeout 5m ./packaging/winetest/

# actionlint, pinned, built into .cache/tools (ignored by git); it runs
# shellcheck (a system package, from make deps) on the workflow's scripts.
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := .cache/tools/actionlint
$(ACTIONLINT): Makefile
	GOBIN='$(abspath .cache/tools)' $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	touch '$@'

test-workflows: $(ACTIONLINT) ## check .github/workflows with actionlint
	$(ACTIONLINT) -no-color

bench: ## relay benchmarks against a direct client, and the metrics scrape (see BENCHMARKS.md)
	$(GO) test -run '^$$' -bench 'Paced|256|Unpaced' -benchtime 5x ./internal/testrig/relaybench/
	$(GO) test -run '^$$' -bench 'TimeToFirst' -benchtime 100x ./internal/testrig/relaybench/
	$(GO) test -run '^$$' -bench 'Idle' -benchtime 4x ./internal/testrig/relaybench/
	$(GO) test -run '^$$' -bench . -benchtime 2s ./core/ledger/ ./core/backend/
	$(GO) test -run '^$$' -bench Scrape -benchtime 2s ./core/metrics/
	$(GO) test -tags $(GUI_TAGS) -run '^$$' -bench ActivityOlderPage -benchtime 200x ./ui/
	$(MAKE) bench-procs
	$(MAKE) bench-desktop

BENCH_DIR := bin/bench
bench-procs: build-headless ## the built agent, a paced SSE server and a coordinator as three processes, against a direct client
	@mkdir -p $(BENCH_DIR)
	$(GO) build -o $(BENCH_DIR)/pacedsse ./internal/testrig/relaybench/pacedsse
	$(GO) build -o $(BENCH_DIR)/procbench ./internal/testrig/relaybench/procbench
	$(GO) build -o $(BENCH_DIR)/tcprelay ./internal/testrig/relaybench/tcprelay
	$(BENCH_DIR)/procbench -agent $(BIN)-headless -sse $(BENCH_DIR)/pacedsse -floor $(BENCH_DIR)/tcprelay \
		-cpuprofile $(abspath $(BENCH_DIR))/agent-cpu.prof -trace $(abspath $(BENCH_DIR))/agent.trace
	@echo "profiles: go tool pprof -top $(BIN)-headless $(BENCH_DIR)/agent-cpu.prof; go tool trace $(BENCH_DIR)/agent.trace"

bench-desktop: deps ## what the always-on desktop process and the dashboard cost, from /proc (about 4 minutes)
	$(GO) test -tags $(GUI_TAGS) -run '^$$' -bench 'AlwaysOnDesktopProcess' -benchtime 1x -timeout 15m ./app/

demo: build-headless ## run the agent against a local coordinator that dispatches a job every few seconds
	@packaging/scripts/demo.sh

demo-replay: build-headless ## the demo with a replayed llama.cpp server, for machines without an inference server
	@DEMO_REPLAY=1 packaging/scripts/demo.sh

clean: ## remove build outputs (the tools in .cache stay; rm -rf .cache to rebuild them)
	rm -rf bin dist

