#!/bin/bash
# tests/long/proxy-100k.sh (make check-long): 100 000 requests through a
# sanitized forkcell-proxy (build/asan by default), then no descriptor may
# have leaked (the proxy's /proc/PID/fd count is back to what it was when
# it became ready) and LeakSanitizer must report nothing when it exits.
#
# The mix: 80 000 keep-alive GETs over 50 connections, 20 000 GETs on a new
# connection each (accept, peer lookup, DNS, upstream connect and close
# every time), plus denied and malformed requests, random garbage,
# half-sent heads and connections reset mid-way. Everything runs in
# namespaces this script creates, as in bench/proxy.sh (bench/httpload.c
# is the client and the upstream).

# The whole test runs in a network namespace of its own.
if [ -z "${FC_LONG_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	export FC_LONG_NETNS=1
	exec unshare -n -- "$BASH" "$0" "$@"
fi
: "${FORKCELL_BIN:=$(cd "$(dirname "$0")/../.." && pwd)/build/asan}"
: "${FORKCELL_TEST_TIMEOUT:=1800}"
export FORKCELL_TEST_TIMEOUT
. "$(dirname "$0")/../integration/lib.sh"

FC_PROXY=$FORKCELL_BIN/forkcell-proxy
[ -x "$FC_PROXY" ] || skip_all "forkcell-proxy not built in $FORKCELL_BIN (make asan)"
[ "${FC_LONG_NETNS:-}" = 1 ] || skip_all "needs unshare -n"
fc_require_cmd cc nsenter ip python3
T=$TEST_TMP

proxy_fds() {
	ls "/proc/$(cat "$T/proxy.pid")/fd" | wc -l
}

in_sbx() {
	nsenter --net="/proc/$(cat "$T/sbx.pid")/ns/net" "$@"
}

test_expect_success 'set up namespaces, the upstream and the proxy' '
	ulimit -n 20000 || true
	cc -O2 -Wall -o "$T/httpload" "$FC_SRCDIR/bench/httpload.c"
	ip link set lo up
	ip link add fcl0 type veth peer name fcl1
	ip addr add 10.79.0.1/24 dev fcl0
	ip link set fcl0 up
	ip link set fcl1 up
	"$T/httpload" serve 10.79.0.1 8080 >"$T/srv.out" 2>&1 </dev/null &
	fc_record_pid $!
	unshare -n sleep 100000 >/dev/null 2>&1 </dev/null &
	echo $! >"$T/sbx.pid"
	fc_record_pid "$(cat "$T/sbx.pid")"
	for i in $(seq 50); do grep -q serving "$T/srv.out" && break; sleep 0.1; done
	cat >"$T/policy.yaml" <<-EOP
	version: 1
	network_policies:
	  load:
	    endpoints:
	      - {host: 10.79.0.1, port: 8080, protocol: rest, rules: [{allow: {method: GET, path: "/ok/**"}}]}
	    binaries: [{path: $T/httpload}, {path: /usr/bin/python3*}]
	EOP
	(
		"$FC_PROXY" --policy "$T/policy.yaml" --events "$T/events.jsonl" \
			--netns "/proc/$(cat "$T/sbx.pid")/ns/net" --ready-fd 3 --run-id long \
			3>"$T/ready" >"$T/proxy.out" 2>"$T/logs/proxy.log" </dev/null &
		echo $! >"$T/proxy.pid"
		rc=0
		wait $! || rc=$?
		echo $rc >"$T/proxy.rc"
	) >/dev/null 2>&1 &
	for i in $(seq 200); do grep -q ready "$T/ready" 2>/dev/null && break; sleep 0.1; done
	grep -q ready "$T/ready"
	fc_record_pid "$(cat "$T/proxy.pid")"
	proxy_fds >"$T/fds.base"
	echo "fds at start: $(cat "$T/fds.base")"
'

test_expect_success '80 000 keep-alive requests over 50 connections' '
	in_sbx "$T/httpload" get -x 127.0.0.1:3128 -c 50 -n 80000 10.79.0.1 8080 /ok/a \
		>"$T/load1" &
	load=$!
	sleep 3
	proxy_fds >"$T/fds.mid"
	wait $load
	cat "$T/load1"
	grep -q "requests=80000 errors=0 non200=0" "$T/load1"
	echo "fds under load: $(cat "$T/fds.mid")"
	[ "$(cat "$T/fds.mid")" -le $(($(cat "$T/fds.base") + 2 * 50 + 8)) ]
'

test_expect_success '20 000 requests on a new connection each' '
	in_sbx "$T/httpload" get -C -x 127.0.0.1:3128 -c 20 -n 20000 10.79.0.1 8080 /ok/b \
		>"$T/load2"
	cat "$T/load2"
	grep -q "requests=20000 errors=0 non200=0" "$T/load2"
'

test_expect_success 'denied and malformed requests along the way' '
	in_sbx "$T/httpload" get -x 127.0.0.1:3128 -c 10 -n 2000 10.79.0.1 8080 /denied \
		>"$T/load3" || true
	grep -q "requests=2000 errors=0 non200=2000" "$T/load3"
	in_sbx python3 - <<-\EOP
	import socket
	for i in range(500):
	    s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
	    s.sendall(b"GET http://10.79.0.1:8080/ok HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
	    data = s.recv(4096)
	    assert data.startswith(b"HTTP/1.1 400 "), data
	    s.close()
	EOP
'

test_expect_success 'garbage, half-sent heads and abrupt closes' '
	in_sbx python3 - <<-\EOP
	import os, random, socket, struct
	random.seed(1600)
	head = b"GET http://10.79.0.1:8080/ok/c HTTP/1.1\r\nHost: 10.79.0.1:8080\r\n\r\n"
	for i in range(3000):
	    s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
	    kind = i % 4
	    try:
	        if kind == 0:
	            s.sendall(os.urandom(random.randint(1, 4096)))
	        elif kind == 1:
	            s.sendall(head[:random.randint(1, len(head) - 1)])
	        elif kind == 2:
	            s.sendall(head)
	        if kind != 3 and random.random() < 0.5:
	            # close with unread data: the kernel sends a reset
	            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
	    except OSError:
	        pass
	    s.close()
	EOP
'

test_expect_success 'no descriptor leaked: the fd count is back to the start' '
	for i in $(seq 50); do
		[ "$(proxy_fds)" -le "$(cat "$T/fds.base")" ] && break
		sleep 0.2
	done
	echo "fds at the end: $(proxy_fds), at start: $(cat "$T/fds.base")"
	test_cmp_int "$(cat "$T/fds.base")" "$(proxy_fds)"
'

test_expect_success 'SIGTERM: exit 0, summary counts, no leak report' '
	kill -TERM "$(cat "$T/proxy.pid")"
	for i in $(seq 300); do [ -f "$T/proxy.rc" ] && break; sleep 0.1; done
	cat "$T/proxy.out"
	test_cmp_str 0 "$(cat "$T/proxy.rc")"
	python3 - "$T/proxy.out" <<-\EOP
	import json, sys
	r = json.load(open(sys.argv[1]))
	assert 100000 <= r["requests"]["allowed"] <= 100000 + 750, r
	assert r["requests"]["denied"] == 2000, r
	assert r["bad_requests"] >= 500, r
	assert r["event_errors"] == 0, r
	EOP
	test "$(wc -l <"$T/events.jsonl")" -eq "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"events\"])" "$T/proxy.out")"
	! ls "$T"/logs/asan* "$T"/logs/lsan* "$T"/logs/ubsan* 2>/dev/null | grep -q .
'

test_done
