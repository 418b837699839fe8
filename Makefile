# callfilter — make help lists the targets.
GO        ?= go
BIN       := bin/callfilter
PKGS      := ./...
# Short fuzzing in `make test`, as a count of executions: a duration races
# Go 1.26's fuzz coordinator at its deadline on a loaded machine and fails
# with "context deadline exceeded" and no crasher (go.dev/issue/75804, fixed
# in Go 1.27). `make fuzz` runs longer, by time.
FUZZTIME  ?= 10000x
# How long the short runs minimize a new interesting input (Go's default of
# 60 s each can dwarf the run itself); `make fuzz` keeps the default.
FUZZMINIMIZE ?= 5s
LONGFUZZ  ?= 2m
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)

# package:FuzzTarget pairs run by `make test` (briefly) and `make fuzz` (longer).
FUZZ_TARGETS := \
	./phone:FuzzNormalize \
	./phone:FuzzFastPathAgreesWithFullParser \
	./filter:FuzzParseRules \
	./api:FuzzCheckRequest \
	./api:FuzzSMSInbound \
	./scrub:FuzzScrubCSV \
	./scrub:FuzzDetectColumn \
	./optout:FuzzClassify \
	./audit:FuzzRecordDecode \
	./listfeed:FuzzDNC \
	./listfeed:FuzzDNCChange \
	./listfeed:FuzzTPS \
	./listfeed:FuzzState \
	./listfeed:FuzzLitigator \
	./listfeed:FuzzCSV \
	./listfeed:FuzzNANPKey \
	./listfeed:FuzzGBKey \
	./scrub:FuzzLineWriter \
	./store/embedded:FuzzBlockCodec

.PHONY: help run run-redis build release test unit fuzz-short fuzz bench loadtest lint depcheck clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## build and serve on the embedded default (config.yaml)
	./$(BIN) serve --config config.yaml

# Redis for `make run-redis`: a local server (run it with appendonly yes; see README).
REDIS_ADDRS ?= 127.0.0.1:6379

run-redis: build ## build and serve on the Redis at REDIS_ADDRS (default 127.0.0.1:6379)
	CALLFILTER_STORE=redis CALLFILTER_REDIS_ADDRS=$(REDIS_ADDRS) ./$(BIN) serve --config config.yaml

build: ## build bin/callfilter
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/callfilter

RELEASE_PLATFORMS := linux/amd64 linux/arm64

release: ## static, versioned binaries in dist/ for linux/amd64 and linux/arm64 (VERSION=...)
	@set -e; mkdir -p dist; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=dist/callfilter-$(VERSION)-$$os-$$arch; \
		echo "build $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $$out ./cmd/callfilter; \
	done; cd dist && sha256sum callfilter-$(VERSION)-* > SHA256SUMS-$(VERSION)

test: depcheck ## vet, unit + conformance + end-to-end tests with -race, short fuzzing
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	# The phone metadata checks skip themselves under -race (slow, and not about concurrency).
	$(GO) test -count=1 -run 'AgreeWithMetadata|DependOnSixDigits|DependsOnSixDigits' ./phone
	$(MAKE) --no-print-directory fuzz-short

fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run=NONE -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZE) $$pkg; \
	done

fuzz: ## fuzz every parser of outside input for LONGFUZZ each
	$(MAKE) --no-print-directory fuzz-short FUZZTIME=$(LONGFUZZ) FUZZMINIMIZE=60s

bench: ## hot-path benchmarks (see BENCHMARKS.md)
	$(GO) test -run=NONE -bench=. -benchmem -count=1 ./phone ./filter ./dnc ./service ./store/... ./api
	$(GO) test -run=NONE -bench=ScrubVsParseOnly -benchtime=20x -cpu=1 ./scrub

loadtest: ## rate sweep of POST /v1/check vs a trivial Fiber handler (POPULATION=, STEP=, HOLD=)
	./scripts/loadtest.sh

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

depcheck: ## the domain (filter, phone) must not import transport or storage
	@bad=$$($(GO) list -deps ./filter ./phone | grep -E 'gofiber|fasthttp|go-redis|bbolt|callfilter/(api|store|dnc|service)' || true); \
	if [ -n "$$bad" ]; then echo "depcheck: filter/phone import:"; echo "$$bad"; exit 1; fi

clean: ## remove build output (not data/)
	rm -rf bin
