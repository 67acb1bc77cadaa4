# sessionscope — see README.md. Every target is phony: the Go tool does the caching.
GO      ?= go
FUZZTIME ?= 5m
# BENCH_RAW holds the benchmark harness's raw JSON, profiles and logs; only the markdown
# results under docs/bench are committed.
BENCH_RAW ?= bin/bench
NODE_APP := inspector/traffic/traffictest/testdata/node

.PHONY: all generate build run test lint bench fuzz node-deps clean

all: lint test

# generate regenerates the templ views; the *_templ.go output is committed.
generate:
	$(GO) tool templ generate -path views

build:
	$(GO) build -o bin/sessionscope .

# run starts sessionscope on its embedded default: the dashboard and the lab, no Redis.
run:
	$(GO) run .

# test runs the whole suite with the race detector. Tests that need a real component
# (redis-server, php with phpredis, node) skip with a message when it is missing,
# unless SESSIONSCOPE_REQUIRE_REAL=1 (as in CI), which makes them fail instead. The
# load test (220,000 notifications/s for 10 s) runs alone afterwards: beside other
# packages' tests the machine is not sessionscope's to keep up with.
test: node-deps
	$(GO) test -race -count=1 ./...
	SESSIONSCOPE_LOAD_TESTS=1 $(GO) test -race -count=1 -run '^TestIngest220kWithHistory$$' ./ui/cli

# node-deps installs the Node test app from its lock file when npm is available.
node-deps:
	@if [ ! -d $(NODE_APP)/node_modules ] && command -v npm >/dev/null 2>&1; then \
		cd $(NODE_APP) && npm ci --no-audit --no-fund --loglevel=error; \
	fi

# lint: gofmt, go vet, staticcheck (default checks) and a tidy go.mod; CI runs it.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path '*/node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@diff=$$($(GO) mod tidy -diff); \
	if [ -n "$$diff" ]; then echo "go.mod/go.sum are not tidy: run 'go mod tidy'"; echo "$$diff"; exit 1; fi

# bench runs the Go benchmarks, the end-to-end ingest/impact benchmark against a
# throwaway redis-server, and the proxy-overhead and 100 MB HAR benchmarks; README's
# Performance section records the results, docs/bench/ the full tables.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./inspector/...
	$(GO) test -run '^$$' -bench SessionsScreen1M -benchtime 5x ./ui/
	$(GO) test -run '^$$' -bench HubFiveClients -benchtime 2000000x ./ui/
	$(GO) test -run '^$$' -bench JSONWriteExchange -benchmem ./ui/term/
	@mkdir -p $(BENCH_RAW)
	$(GO) run ./ui/ssbench -out $(BENCH_RAW)/ssbench.json > docs/bench/ssbench.md
	$(GO) run ./ui/ssbench -phases ingest -ingest-rate 50000 -out $(BENCH_RAW)/ingest-paced.json > docs/bench/ingest-paced.md
	$(GO) run ./ui/ssbench -phases ingest -ingest-rate 50000 -ingest-history -out $(BENCH_RAW)/ingest-history.json > docs/bench/ingest-history.md
	$(GO) run ./ui/ssbench -phases ingest -ingest-rate 50000 -ingest-export -out $(BENCH_RAW)/ingest-export.json > docs/bench/ingest-export.md
	$(GO) run ./ui/ssbench -phases proxy,analyze -out $(BENCH_RAW)/proxy.json > docs/bench/proxy.md
	$(GO) run ./ui/ssbench -phases inventory -out $(BENCH_RAW)/inventory.json > docs/bench/inventory.md

# fuzz runs every fuzz target for FUZZTIME each (not part of CI).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME); \
		done; \
	done

clean:
	rm -rf bin
