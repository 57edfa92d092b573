# Flotilla. `make cluster` starts a local cluster, `make test` runs the tests;
# both do all the set-up they need on a fresh Debian machine.

GO       ?= go
BIN      := bin
FUZZTIME ?= 30s
PORT     ?= 6379
NODES    ?= 3
ZONES    ?= 3
CLUSTER_DIR := .cluster
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build tools test test-race fuzz lint bench failover move-bench chaos cluster cluster-down clean compose-up compose-down compose-local compose-local-down compose-local-status

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# Debian's redis-tools (redis-cli, redis-benchmark) and redis-server: the
# tests use them as real clients and as the reference Redis. iptables: the
# chaos drills' partitions.
tools:
	@if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null || ! command -v tmux >/dev/null || ! { command -v iptables || test -x /usr/sbin/iptables; } >/dev/null; then \
		echo "installing Debian's redis-server, redis-tools and iptables"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server redis-tools tmux iptables >/dev/null; \
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

# Flotilla against Redis on this machine (see cmd/flotilla-bench): the
# single-node table, then the cluster table, 3 Flotilla nodes against a Redis
# Cluster of 3 masters + 3 replicas with and without appendfsync always
# (about 10 minutes). Both tables run even if the first misses a floor; the
# target fails if either did. BENCHFLAGS and CLUSTER_BENCHFLAGS add flags
# (CLUSTER_BENCHFLAGS="-rounds 1 -n 20000" for a quick look).
bench: tools build
	@status=0; \
	echo "$(BIN)/flotilla-bench -flotilla $(BIN)/flotilla $(BENCHFLAGS)"; \
	$(BIN)/flotilla-bench -flotilla $(BIN)/flotilla $(BENCHFLAGS) || status=1; \
	echo "$(BIN)/flotilla-bench -cluster -flotilla $(BIN)/flotilla $(CLUSTER_BENCHFLAGS)"; \
	$(BIN)/flotilla-bench -cluster -flotilla $(BIN)/flotilla $(CLUSTER_BENCHFLAGS) || status=1; \
	exit $$status

# The failover measurement: KILLS (10) kill -9 of a shard leader while
# clients write, the time to the first successful write to its slots
# through a go-redis ClusterClient; fails when the median is above 2 s.
failover: tools
	FAILOVER_KILLS=$(or $(KILLS),10) $(GO) test ./test/integration -run TestFailoverTimes -count=1 -v -timeout 20m

# The live slot move measurement: ROUNDS (7) moves of a slot of 10,000
# keys between shards on different nodes while go-redis clients write it;
# reports the handover pause, the clients' longest gap and keys/s, and
# fails when the median pause is above 100 ms.
move-bench: tools
	MOVE_ROUNDS=$(or $(ROUNDS),7) $(GO) test ./test/integration -run TestSlotMoveAcrossNodes -count=1 -v -timeout 20m

# The chaos drills (cmd/flotilla-chaos, test/chaos/README.md): TARGET
# (flotilla, redis or both) under load from many clients while FAULTS (all,
# or a list like kill-leader,partition-*) are injected one at a time for
# DURATION, then every acknowledged write, the register histories
# (porcupine), counters, lists, transfers and the slot map are checked.
# NODES Flotilla nodes in ZONES zones (3 and 3: zone loss is then the loss
# of one node; NODES=6 loses two at once), and SPARES (1) more nodes that
# node-join starts into the running cluster (node-remove makes the node it
# removes a spare again). SEED 0 picks one and prints it.
# Partition faults need root and iptables (make tools installs it); without
# them they are skipped. Tables on stdout; report.json, timeline.png and the
# node logs under test/chaos/out/<time>/. CHAOSFLAGS adds flags.
DURATION ?= 5m
FAULTS   ?= all
SEED     ?= 0
TARGET   ?= flotilla
SPARES   ?= 1
chaos: tools build
	$(BIN)/flotilla-chaos -target $(TARGET) -duration $(DURATION) -faults '$(FAULTS)' -nodes $(NODES) -spares $(SPARES) -zones $(ZONES) -seed $(SEED) -bin $(BIN)/flotilla $(CHAOSFLAGS)

# A local cluster of NODES nodes in ZONES zones, on 127.0.0.11, 127.0.0.12,
# ... with the ports 6379/16379/7946/9121 each, data and logs in
# $(CLUSTER_DIR)/nodeN; returns once cluster_state:ok (cmd/flotilla-local).
# Running it again starts only the nodes that are not running.
# CLUSTER_ARGS are more flotilla flags (CLUSTER_ARGS="--cluster-replicas 1"),
# LOCALFLAGS more flotilla-local flags (LOCALFLAGS="-gossip-port 7950").
cluster: build
	@$(BIN)/flotilla-local up -bin $(BIN)/flotilla -dir $(CLUSTER_DIR) -nodes $(NODES) -zones $(ZONES) -port $(PORT) $(LOCALFLAGS) -- $(CLUSTER_ARGS)

# SIGTERM to every node of the local cluster, and wait; the data stays.
cluster-down:
	@$(GO) build -o $(BIN)/ ./cmd/flotilla-local && $(BIN)/flotilla-local down -dir $(CLUSTER_DIR)

# The docker-compose deployment (deploy/compose, README there): 6 nodes in 3
# zones and Prometheus, built from deploy/compose/Dockerfile. compose-down
# keeps the volumes (COMPOSE_DOWNFLAGS=-v removes them, and the data).
COMPOSE := docker compose -f deploy/compose/docker-compose.yml
compose-up:
	@command -v docker >/dev/null || { echo "no docker here: make compose-local runs the same topology as local processes"; exit 1; }
	$(COMPOSE) up -d --build

compose-down:
	@command -v docker >/dev/null || { echo "no docker here"; exit 1; }
	$(COMPOSE) down $(COMPOSE_DOWNFLAGS)

# The compose file's topology as local processes, where there is no Docker
# (cmd/flotilla-compose-local): each node's service command, with its IP
# mapped to the loopback address of the same last byte (127.0.0.11..16),
# same ports, data and logs in $(COMPOSE_LOCAL_DIR)/nodeN; returns once
# cluster_state:ok. It shares addresses and ports with `make cluster`: stop
# one before the other, or COMPOSE_LOCALFLAGS="-ip 127.0.0.31".
COMPOSE_LOCAL_DIR := $(CLUSTER_DIR)/compose
compose-local: build
	@$(BIN)/flotilla-compose-local up -file deploy/compose/docker-compose.yml -bin $(BIN)/flotilla -dir $(COMPOSE_LOCAL_DIR) $(COMPOSE_LOCALFLAGS)

# SIGTERM to every node of compose-local, and wait; the data stays.
compose-local-down:
	@$(GO) build -o $(BIN)/ ./cmd/flotilla-compose-local && $(BIN)/flotilla-compose-local down -dir $(COMPOSE_LOCAL_DIR)

compose-local-status:
	@$(GO) build -o $(BIN)/ ./cmd/flotilla-compose-local && $(BIN)/flotilla-compose-local status -dir $(COMPOSE_LOCAL_DIR)

clean: cluster-down
	rm -rf $(BIN) $(CLUSTER_DIR)
