#!/bin/bash
# bench/proxy.sh: requests per second and added latency of forkcell-proxy
# against going direct, with many concurrent connections.
#
# Everything runs in namespaces this script creates (no outside address is
# ever touched): a private network namespace for the run, where an
# interface (one end of a veth pair) carries 10.78.0.1 and bench/httpload.c serves on it (a small
# epoll HTTP server answering 200 with a 64-byte body), and a "sandbox"
# namespace (unshare -n sleep) where the proxy listens on 127.0.0.1:3128.
# Direct: httpload in the run's namespace to 10.78.0.1:8080. Proxied:
# httpload in the sandbox namespace through the proxy (absolute-form GETs,
# the path an HTTP_PROXY client takes), with an L7 policy (protocol rest,
# a GET rule), so every request is parsed, decided and logged.
#
# Run as root: bench/proxy.sh (FORKCELL_BIN=build/release by default).
#
# Environment:
#   FORKCELL_BIN          directory holding forkcell-proxy
#   BENCH_PROXY_N         requests per measurement (default 50000)
#   BENCH_PROXY_CONNS     concurrent connections (default "1 50 200")
#   BENCH_PROXY_REPS      repetitions (default 3; every line is printed)
#   BENCH_RESULTS         results directory (default bench/results)
#
# Output: a table on stdout and bench/results/<UTC date>-proxy.tsv with one
# line per measurement: mode (direct, proxy, proxy-close = a new connection
# per request), connections, rep, requests, seconds, rps, p50 and p99
# latency in microseconds, errors.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

if [ -z "${FC_BENCH_PROXY_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "bench/proxy.sh: must run as root (network namespaces)" >&2
		exit 1
	fi
	export FC_BENCH_PROXY_NS=1
	exec unshare -n -m --propagation private "$0" "$@"
fi

BIN=${FORKCELL_BIN:-$ROOT/build/release}
N=${BENCH_PROXY_N:-50000}
CONNS=${BENCH_PROXY_CONNS:-"1 50 200"}
REPS=${BENCH_PROXY_REPS:-3}
RESDIR=${BENCH_RESULTS:-$HERE/results}
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
TSV=$RESDIR/$STAMP-proxy.tsv
WORK=$(mktemp -d /tmp/fc-bench-proxy.XXXXXX)
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$BIN/forkcell-proxy" ] || {
	echo "bench/proxy.sh: no forkcell-proxy in $BIN (run make)" >&2
	exit 1
}
ulimit -n 20000 2>/dev/null || true
cc -O2 -Wall -o "$WORK/httpload" "$HERE/httpload.c"

ip link set lo up
# A veth pair kept in this namespace: its address is local, but not loopback
# (the proxy's SSRF check refuses loopback answers).
ip link add fcb0 type veth peer name fcb1
ip addr add 10.78.0.1/24 dev fcb0
ip link set fcb0 up
ip link set fcb1 up

"$WORK/httpload" serve 10.78.0.1 8080 >"$WORK/srv.out" &
PIDS+=($!)
unshare -n sleep 100000 &
SBX=$!
PIDS+=($SBX)
for _ in $(seq 50); do grep -q serving "$WORK/srv.out" && break; sleep 0.1; done

cat >"$WORK/policy.yaml" <<EOF
version: 1
network_policies:
  bench:
    endpoints:
      - {host: 10.78.0.1, port: 8080, protocol: rest, rules: [{allow: {method: GET, path: "/**"}}]}
    binaries: [{path: $WORK/httpload}]
EOF

"$BIN/forkcell-proxy" --policy "$WORK/policy.yaml" --events "$WORK/events.jsonl" \
	--netns "/proc/$SBX/ns/net" --ready-fd 3 --run-id bench \
	3>"$WORK/ready" >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
PROXY=$!
PIDS+=($PROXY)
for _ in $(seq 100); do grep -q ready "$WORK/ready" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$WORK/ready" || {
	cat "$WORK/proxy.err" >&2
	exit 1
}

mkdir -p "$RESDIR"
printf 'mode\tconns\trep\trequests\tseconds\trps\tp50_us\tp99_us\terrors\n' >"$TSV"
printf '%-12s %6s %4s %9s %9s %9s %9s\n' mode conns rep requests rps p50_us p99_us

# measure MODE CONNS REP CMD...: run one httpload, record its numbers.
measure() {
	local mode=$1 c=$2 rep=$3 line
	shift 3
	line=$("$@" || true)
	# requests=N errors=E non200=B seconds=S rps=R p50_us=A p99_us=B
	eval "$(printf '%s\n' "$line" | tr ' ' '\n' | sed -n 's/^\([a-z0-9_]*\)=\(.*\)$/m_\1=\2/p')"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$c" "$rep" "$m_requests" \
		"$m_seconds" "$m_rps" "$m_p50_us" "$m_p99_us" "$((m_errors + m_non200))" >>"$TSV"
	printf '%-12s %6s %4s %9s %9s %9s %9s\n' "$mode" "$c" "$rep" "$m_requests" "$m_rps" \
		"$m_p50_us" "$m_p99_us"
}

for c in $CONNS; do
	for rep in $(seq "$REPS"); do
		measure direct "$c" "$rep" "$WORK/httpload" get -c "$c" -n "$N" 10.78.0.1 8080 /b
		measure proxy "$c" "$rep" nsenter --net="/proc/$SBX/ns/net" \
			"$WORK/httpload" get -x 127.0.0.1:3128 -c "$c" -n "$N" 10.78.0.1 8080 /b
		measure proxy-close "$c" "$rep" nsenter --net="/proc/$SBX/ns/net" \
			"$WORK/httpload" get -C -x 127.0.0.1:3128 -c "$c" -n "$((N / 10))" \
			10.78.0.1 8080 /b
	done
done

kill -TERM "$PROXY"
wait "$PROXY" || true
echo "proxy summary: $(cat "$WORK/proxy.out")"
echo "results: $TSV"
