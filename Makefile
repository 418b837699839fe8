# callfilter — make help lists the targets.
GO        ?= go
BIN       := bin/callfilter
PKGS      := ./...
# Short fuzzing in `make test`; `make fuzz` runs longer.
FUZZTIME  ?= 5s
LONGFUZZ  ?= 2m
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)

# package:FuzzTarget pairs run by `make test` (briefly) and `make fuzz` (longer).
FUZZ_TARGETS := \
	./phone:FuzzNormalize \
	./phone:FuzzFastPathAgreesWithFullParser \
	./filter:FuzzParseRules \
	./api:FuzzCheckRequest

.PHONY: help run build test unit fuzz-short fuzz bench loadtest lint depcheck clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## build and serve on the embedded default (config.yaml)
	./$(BIN) serve --config config.yaml

build: ## build bin/callfilter
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/callfilter

test: depcheck ## vet, unit + conformance + end-to-end tests with -race, short fuzzing
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(MAKE) --no-print-directory fuzz-short

fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run=NONE -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

fuzz: ## fuzz every parser of outside input for LONGFUZZ each
	$(MAKE) --no-print-directory fuzz-short FUZZTIME=$(LONGFUZZ)

bench: ## hot-path benchmarks (see BENCHMARKS.md)
	$(GO) test -run=NONE -bench=. -benchmem -count=1 ./phone ./filter ./dnc ./service ./store/... ./api

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
