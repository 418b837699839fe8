#!/usr/bin/env bash
# make loadtest: a rate sweep of POST /v1/check on the embedded store, and the
# same sweep against a trivial Fiber handler, in one run, so each figure is a
# ratio to that baseline. On 2 cores the server is pinned to CPU 0 and the
# generator to CPU 1 (taskset), so they do not compete for one core.
#
# When redis-server is installed it then runs the Redis mode: a dedicated
# redis-server on a free loopback port (pinned with the service, both are the
# system under test), redis-benchmark's unpipelined GET rate against it as the
# Redis baseline, and the same sweep of the service on that Redis.
#
# Knobs (environment): POPULATION (listed numbers preloaded, default 1000000),
# STEP (each sweep step, default 5s), HOLD (hold at half of peak, default 30s),
# OUT (where the JSON reports go, default docs/loadtest), REDIS_PORT (the
# dedicated Redis, default 6391), REDIS=0 to skip the Redis mode.
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

kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

peak_of() { sed -n 's/^peak \([0-9]*\) req.*/\1/p' "$1"; }
base=$(peak_of "$tmp/baseline.txt")
svc=$(peak_of "$tmp/service.txt")

REDIS=${REDIS:-1}
REDIS_PORT=${REDIS_PORT:-6391}
redis_get="" redis_svc=""
if [ "$REDIS" = 1 ] && command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
	echo "== Redis mode: dedicated redis-server on 127.0.0.1:$REDIS_PORT"
	mkdir -p "$tmp/redis"
	# Persistence as an operator should run it (README, durability): AOF, fsync every second.
	taskset -c "$SERVER_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" \
		--appendonly yes --appendfsync everysec --dir "$tmp/redis" >"$tmp/redis.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
	echo "-- redis-benchmark GET, unpipelined, 50 clients (the Redis baseline)"
	taskset -c "$GEN_CPU" redis-benchmark -p "$REDIS_PORT" -t get -n 300000 -c 50 -P 1 --csv >"$tmp/redis-bench.csv"
	redis_get=$(awk -F'"' '$2 == "GET" { split($4, r, "."); print r[1] }' "$tmp/redis-bench.csv")
	awk -F'"' '$2 == "GET" { printf "GET: %s req/s, p50 %s ms, p99 %s ms\n", $4, $10, $14 }' "$tmp/redis-bench.csv"
	echo "-- callfilter on that Redis, $POPULATION listed numbers"
	CALLFILTER_ADMIN_KEY=$KEY CALLFILTER_LISTEN=127.0.0.1:0 CALLFILTER_STORE=redis \
		CALLFILTER_REDIS_ADDRS=127.0.0.1:$REDIS_PORT CALLFILTER_HMAC_SECRET=loadtest-secret-0123456789abcdef \
		start "$tmp/service-redis.log" bin/callfilter serve --config config.yaml
	addr=$(addr_of "$tmp/service-redis.log")
	wait_ready "$addr"
	CALLFILTER_KEY=$KEY gen --target "http://$addr" --preload "$POPULATION" --json "$OUT/service-redis.json" | tee "$tmp/service-redis.txt"
	redis_svc=$(peak_of "$tmp/service-redis.txt")
fi
echo
echo "== summary ($(nproc) CPUs; server on CPU $SERVER_CPU, generator on CPU $GEN_CPU)"
echo "baseline peak: $base req/s"
echo "callfilter peak: $svc req/s"
if [ -n "$base" ] && [ "$base" -gt 0 ]; then
	awk -v s="$svc" -v b="$base" 'BEGIN { printf "ratio: %.0f%% of the trivial handler\n", 100*s/b }'
fi
grep '^hold' "$tmp/service.txt" || true
if [ -n "$redis_svc" ]; then
	echo "redis-benchmark GET (unpipelined): $redis_get req/s"
	echo "callfilter on Redis peak: $redis_svc req/s"
	awk -v s="$redis_svc" -v g="$redis_get" -v b="$base" 'BEGIN {
		if (g > 0) printf "ratio to redis-benchmark GET: %.2f\n", s/g;
		if (b > 0) printf "ratio to the trivial handler: %.0f%%\n", 100*s/b }'
	grep '^hold' "$tmp/service-redis.txt" || true
fi
echo "reports: $OUT/baseline.json $OUT/service.json${redis_svc:+ $OUT/service-redis.json}"
