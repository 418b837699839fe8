#!/usr/bin/env bash
# make loadtest: a rate sweep of POST /v1/check on the embedded store, and the
# same sweep against a trivial Fiber handler, in one run, so each figure is a
# ratio to that baseline. On 2 cores the server is pinned to CPU 0 and the
# generator to CPU 1 (taskset), so they do not compete for one core.
#
# Knobs (environment): POPULATION (listed numbers preloaded, default 1000000),
# STEP (each sweep step, default 5s), HOLD (hold at half of peak, default 30s),
# OUT (where the JSON reports go, default docs/loadtest).
set -euo pipefail
cd "$(dirname "$0")/.."

POPULATION=${POPULATION:-1000000}
STEP=${STEP:-5s}
HOLD=${HOLD:-30s}
OUT=${OUT:-docs/loadtest}
AT=2026-11-18T18:00:00Z # a Wednesday, 13:00 in New York, 10:00 in Los Angeles
SERVER_CPU=0
GEN_CPU=1
if [ "$(nproc)" -lt 2 ]; then SERVER_CPU=0; GEN_CPU=0; echo "only one CPU: server and generator share it"; fi

mkdir -p bin "$OUT"
go build -trimpath -o bin/callfilter ./cmd/callfilter
go build -trimpath -o bin/loadtest ./cmd/loadtest

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# start LOG CMD...: runs CMD in the background, pinned to the server CPU, its
# log in LOG; addr_of LOG then waits for the "serving" line and prints the
# address. (Not one function: a server started inside $(...) would hold the
# substitution open and be out of reach of the cleanup.)
start() {
	local log=$1; shift
	taskset -c "$SERVER_CPU" "$@" >/dev/null 2>"$log" &
	pids+=($!)
}

addr_of() {
	local addr
	for _ in $(seq 1 300); do
		addr=$(grep -o '"addr":"[^"]*"' "$1" 2>/dev/null | head -1 | cut -d'"' -f4 || true)
		if [ -n "$addr" ]; then echo "$addr"; return 0; fi
		sleep 0.1
	done
	echo "server did not start:" >&2; cat "$1" >&2; return 1
}

wait_ready() {
	for _ in $(seq 1 600); do
		if curl -sf "http://$1/readyz" >/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "server not ready" >&2; return 1
}

gen() { taskset -c "$GEN_CPU" bin/loadtest --at "$AT" --step "$STEP" --hold "$HOLD" --sweep "$@"; }

echo "== baseline: trivial Fiber handler (callfilter trivial-server)"
start "$tmp/trivial.log" bin/callfilter trivial-server --listen 127.0.0.1:0
addr=$(addr_of "$tmp/trivial.log")
gen --target "http://$addr" --json "$OUT/baseline.json" | tee "$tmp/baseline.txt"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

echo "== callfilter, embedded store, $POPULATION listed numbers"
KEY="cf_loadtest-$(date +%s%N)"
CALLFILTER_ADMIN_KEY=$KEY CALLFILTER_LISTEN=127.0.0.1:0 CALLFILTER_STORE_PATH="$tmp/db" \
	start "$tmp/service.log" bin/callfilter serve --config config.yaml
addr=$(addr_of "$tmp/service.log")
wait_ready "$addr"
CALLFILTER_KEY=$KEY gen --target "http://$addr" --preload "$POPULATION" --json "$OUT/service.json" | tee "$tmp/service.txt"

base=$(sed -n 's/^peak \([0-9]*\) req.*/\1/p' "$tmp/baseline.txt")
svc=$(sed -n 's/^peak \([0-9]*\) req.*/\1/p' "$tmp/service.txt")
echo
echo "== summary ($(nproc) CPUs; server on CPU $SERVER_CPU, generator on CPU $GEN_CPU)"
echo "baseline peak: $base req/s"
echo "callfilter peak: $svc req/s"
if [ -n "$base" ] && [ "$base" -gt 0 ]; then
	awk -v s="$svc" -v b="$base" 'BEGIN { printf "ratio: %.0f%% of the trivial handler\n", 100*s/b }'
fi
grep '^hold' "$tmp/service.txt" || true
echo "reports: $OUT/baseline.json $OUT/service.json"
