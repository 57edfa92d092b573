# Flotilla. `make cluster` starts a local node, `make test` runs the tests;
# both do all the set-up they need on a fresh Debian machine.

GO       ?= go
BIN      := bin
FUZZTIME ?= 30s
PORT     ?= 6379
HOST     ?= 127.0.0.1
CLUSTER_DIR := .cluster
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build tools test test-race fuzz lint bench cluster cluster-down clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# Debian's redis-tools (redis-cli, redis-benchmark) and redis-server: the
# tests use them as real clients and as the reference Redis.
tools:
	@if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null || ! command -v tmux >/dev/null; then \
		echo "installing Debian's redis-server and redis-tools"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server redis-tools tmux >/dev/null; \
	fi

# The default suite: formatting, vet, every test with the race detector
# (fuzz targets run their seed corpora), well under 15 minutes.
test: tools
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

test-race: test

# Fuzz each target for FUZZTIME.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep ^Fuzz); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run=NONE -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

lint:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 ./...

# Flotilla against Redis on this machine, in one run (see cmd/flotilla-bench).
bench: tools build
	$(BIN)/flotilla-bench -flotilla $(BIN)/flotilla $(BENCHFLAGS)

# A local node on $(HOST):$(PORT), data under $(CLUSTER_DIR).
cluster: build
	@mkdir -p $(CLUSTER_DIR)/node1
	@if [ -f $(CLUSTER_DIR)/node1/flotilla.pid ] && kill -0 $$(cat $(CLUSTER_DIR)/node1/flotilla.pid) 2>/dev/null; then \
		echo "already running (pid $$(cat $(CLUSTER_DIR)/node1/flotilla.pid)); make cluster-down stops it"; exit 0; \
	fi; \
	nohup $(BIN)/flotilla --bind $(HOST) --port $(PORT) --dir $(CURDIR)/$(CLUSTER_DIR)/node1 \
		--logfile $(CURDIR)/$(CLUSTER_DIR)/node1/flotilla.log >/dev/null 2>&1 & echo $$! > $(CLUSTER_DIR)/node1/flotilla.pid; \
	for i in $$(seq 1 50); do \
		if command -v redis-cli >/dev/null && redis-cli -h $(HOST) -p $(PORT) ping >/dev/null 2>&1; then break; fi; \
		if ! command -v redis-cli >/dev/null && (exec 3<>/dev/tcp/$(HOST)/$(PORT)) 2>/dev/null; then break; fi; \
		sleep 0.1; \
	done; \
	echo "Flotilla is running on $(HOST):$(PORT) (pid $$(cat $(CLUSTER_DIR)/node1/flotilla.pid), log $(CLUSTER_DIR)/node1/flotilla.log)"; \
	echo "Connect:  redis-cli -c -h $(HOST) -p $(PORT)"; \
	echo "Stop:     make cluster-down"

cluster-down:
	@if [ -f $(CLUSTER_DIR)/node1/flotilla.pid ]; then \
		kill $$(cat $(CLUSTER_DIR)/node1/flotilla.pid) 2>/dev/null || true; \
		rm -f $(CLUSTER_DIR)/node1/flotilla.pid; echo "stopped"; \
	else echo "not running"; fi

clean: cluster-down
	rm -rf $(BIN) $(CLUSTER_DIR)
