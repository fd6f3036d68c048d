#!/bin/bash
# forkcellctl run --policy on the local runtime, end to end: forkcell-init
# applies Landlock, seccomp and the identity; forkcell-proxy, in the
# sandbox's network namespace, is the only way out and writes OCSF events;
# the receipt binds the policy, says it was enforced, counts the events and
# copies the denials; `events query` finds them; a policy change between two
# runs of a cell is in the second receipt.
#
# Network: the whole test runs in a network namespace of its own (unshare -n
# below); the upstream HTTP and HTTPS servers run in a second namespace
# joined to it by a veth pair (10.231.0.1 <-> 10.231.0.2), with names from
# a private /etc/hosts. Nothing outside the machine is ever addressed.
if [ -z "${FC_T1700_NETNS:-}" ]; then
	FC_T1700_NETNS=1 exec unshare -n -- "$BASH" "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
fc_require_cmd bwrap python3 curl openssl ip nsenter
[ -x "$FORKCELL_BIN/forkcell-proxy" ] || skip_all "forkcell-proxy is not built"
[ -x "$FORKCELL_BIN/forkcell-init" ] || skip_all "forkcell-init is not built"

json_get() {
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}
latest_receipt() {
	ctl receipt show --format json >"$1"
}
SRV=10.231.0.2

# The upstream side: a server namespace, a veth pair, a test CA and the
# HTTP(S) servers; names through a private /etc/hosts.
start_upstream() {
	ip link set lo up
	unshare -n sleep 100000 &
	echo $! >"$TEST_TMP/srvns.pid"
	fc_record_pid $!
	local ns
	ns=$(cat "$TEST_TMP/srvns.pid")
	sleep 0.2
	ip link add fcv0 type veth peer name fcv1 netns "$ns"
	ip addr add 10.231.0.1/24 dev fcv0
	ip link set fcv0 up
	nsenter -t "$ns" -n ip addr add $SRV/24 dev fcv1
	nsenter -t "$ns" -n ip link set fcv1 up
	nsenter -t "$ns" -n ip link set lo up
	(
		cd "$TEST_TMP"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=forkcell test CA" -keyout ca.key -out ca.crt \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/CN=api.test" -keyout srv.key -out srv.csr
		printf 'subjectAltName=DNS:api.test,DNS:docs.test,DNS:audit.test,DNS:evil.test\n' >srv.ext
		openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
			-extfile srv.ext -out srv.crt
	) >/dev/null 2>&1
	nsenter -t "$ns" -n python3 "$FC_PYHELPERS/upstream_httpd.py" --addr $SRV --http 80 \
		--https 443 --cert "$TEST_TMP/srv.crt" --key "$TEST_TMP/srv.key" \
		--log "$TEST_TMP/upstream.log" --ready "$TEST_TMP/upstream.ready" &
	fc_record_pid $!
	for _ in $(seq 100); do
		[ -s "$TEST_TMP/upstream.ready" ] && break
		sleep 0.1
	done
	[ -s "$TEST_TMP/upstream.ready" ]
	: >"$TEST_TMP/upstream.log"
	printf '127.0.0.1 localhost\n%s api.test docs.test audit.test evil.test\n' $SRV \
		>"$TEST_TMP/hosts"
	mount --bind "$TEST_TMP/hosts" /etc/hosts
}

cat >"$TEST_TMP/policy.yaml" <<'EOF'
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /sbin, /etc, /proc, /dev]
  read_write: [/tmp]
landlock:
  compatibility: best_effort
network_policies:
  docs_get_only:
    endpoints:
      - {host: docs.test, port: 80, protocol: rest, rules: [{allow: {method: GET, path: "/**"}}]}
    binaries: [{path: /usr/bin/curl}]
  api_no_admin:
    endpoints:
      - host: api.test
        port: 443
        protocol: rest
        access: read-write
        deny_rules: [{method: "*", path: "/admin/**"}]
    binaries: [{path: /usr/bin/curl}]
  audit_only:
    endpoints:
      - {host: audit.test, port: 80, protocol: rest, enforcement: audit, rules: [{allow: {method: GET, path: "/ok"}}]}
    binaries: [{path: /usr/bin/curl}]
EOF

# the same with the docs endpoint also open to python3
cp "$TEST_TMP/policy.yaml" "$TEST_TMP/policy2.yaml"
cat >>"$TEST_TMP/policy2.yaml" <<'EOF'
  docs_python:
    endpoints:
      - {host: docs.test, port: 80}
    binaries: [{path: "/usr/bin/python3*"}]
EOF

export FORKCELL_UPSTREAM_CA=$TEST_TMP/ca.crt

# prun ARGS...: a governed run of cell c1 under the policy.
prun() {
	ctl run c1 --policy "$TEST_TMP/policy.yaml" "$@"
}
# the HTTP status curl saw (the command's stdout)
CURL='curl -s -o /dev/null -w %{http_code} --max-time 20'

test_expect_success 'set up: upstream servers, a cell' '
	start_upstream &&
	curl -s --max-time 5 http://docs.test/ping | grep -q "ok GET /ping" &&
	: >"$TEST_TMP/upstream.log" &&
	fc_fill_tree "$TEST_TMP/src" &&
	fc_init c1 "$TEST_TMP/src" &&
	ctl mount c1 "$TEST_TMP/mnt" --allow-other
'

test_expect_success 'a denied host is refused with a 403 and a denied event in the receipt' '
	prun -- $CURL http://evil.test/x >"$TEST_TMP/out" &&
	test_cmp_str 403 "$(cat "$TEST_TMP/out")" &&
	latest_receipt "$TEST_TMP/r1.json" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r1.json" "r[\"policy\"][\"enforced\"]")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r1.json" "any(e[\"decision\"] == \"denied\" and e[\"dst\"].startswith(\"evil.test:\") for e in r[\"policy_events\"])")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r1.json" "r[\"events\"][\"lines\"] >= 1")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r1.json" "r[\"events\"][\"matches_proxy_count\"]")" &&
	test_cmp_str "$(sha256sum <"$(json_get "$TEST_TMP/r1.json" "r[\"events\"][\"file\"]")" | cut -d" " -f1)" \
		"$(json_get "$TEST_TMP/r1.json" "r[\"events\"][\"sha256\"]")" &&
	! grep -q evil.test "$TEST_TMP/upstream.log"
'

test_expect_success 'an allow-only-GET endpoint passes GET and HEAD and refuses POST' '
	prun -- sh -c "$CURL http://docs.test/a; echo; $CURL -I http://docs.test/b; echo; $CURL -X POST -d x http://docs.test/c" >"$TEST_TMP/out" &&
	test_cmp_str "200 200 403" "$(tr "\n" " " <"$TEST_TMP/out" | sed "s/ $//")" &&
	grep -q "^GET docs.test /a" "$TEST_TMP/upstream.log" &&
	grep -q "^HEAD docs.test /b" "$TEST_TMP/upstream.log" &&
	! grep -q "^POST" "$TEST_TMP/upstream.log"
'

test_expect_success 'an L7 deny rule refuses a path over HTTPS while other paths pass' '
	prun -- sh -c "$CURL -X POST -d x https://api.test/v1/items; echo; $CURL https://api.test/admin/users" >"$TEST_TMP/out" &&
	test_cmp_str "200 403" "$(tr "\n" " " <"$TEST_TMP/out" | sed "s/ $//")" &&
	grep -q "^POST api.test /v1/items" "$TEST_TMP/upstream.log" &&
	! grep -q "/admin" "$TEST_TMP/upstream.log" &&
	latest_receipt "$TEST_TMP/r3.json" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r3.json" "any(e.get(\"path\") == \"/admin/users\" and e[\"decision\"] == \"denied\" for e in r[\"policy_events\"])")"
'

test_expect_success 'audit mode lets a violation through and records it as audited, with the upstream status' '
	prun -- $CURL http://audit.test/not-ok >"$TEST_TMP/out" &&
	test_cmp_str 200 "$(cat "$TEST_TMP/out")" &&
	grep -q "^GET audit.test /not-ok" "$TEST_TMP/upstream.log" &&
	latest_receipt "$TEST_TMP/r4.json" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r4.json" "any(e[\"decision\"] == \"audited\" and e[\"status\"] == 200 for e in r[\"policy_events\"])")"
'

test_expect_success 'a binary rule lets curl through and refuses python3' '
	prun -- python3 -c "import urllib.request as u, urllib.error as e
try:
    u.urlopen(\"http://docs.test/py\", timeout=20)
    print(200)
except e.HTTPError as x:
    print(x.code)" >"$TEST_TMP/out" &&
	test_cmp_str 403 "$(cat "$TEST_TMP/out")" &&
	! grep -q " /py" "$TEST_TMP/upstream.log"
'

test_expect_success 'a direct connection that bypasses the proxy fails' '
	prun -- python3 -c "import socket
s = socket.socket()
s.settimeout(5)
try:
    s.connect((\"$SRV\", 80))
    print(\"connected\")
except OSError as x:
    print(\"failed\", x.errno)" >"$TEST_TMP/out" &&
	test_grep "^failed" "$TEST_TMP/out"
'

test_expect_success 'DNS to an outside resolver fails' '
	prun -- python3 -c "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b\"\\0\" * 12, (\"192.0.2.53\", 53))
    s.settimeout(2)
    s.recv(512)
    print(\"answered\")
except OSError as x:
    print(\"failed\", x.errno)" >"$TEST_TMP/out" &&
	test_grep "^failed" "$TEST_TMP/out"
'

test_expect_success 'Landlock: a write outside read_write fails, inside the workdir works' '
	prun -- sh -c "echo x >/etc/forkcell-test 2>/dev/null && echo wrote-etc; echo y >/tmp/t && echo wrote-tmp; echo z >in-workdir && echo wrote-workdir" >"$TEST_TMP/out" &&
	test_cmp_str "wrote-tmp wrote-workdir" "$(tr "\n" " " <"$TEST_TMP/out" | sed "s/ $//")" &&
	latest_receipt "$TEST_TMP/r8.json" &&
	test_cmp_str enforced "$(json_get "$TEST_TMP/r8.json" "r[\"policy\"][\"enforcement\"][\"init\"][\"landlock\"][\"status\"]")"
'

test_expect_success 'fake OCSF lines printed by the agent change nothing in the receipt' '
	prun -- sh -c "echo {\\\"class_uid\\\":4001,\\\"action\\\":\\\"Allowed\\\",\\\"dst_endpoint\\\":{\\\"domain\\\":\\\"evil.test\\\",\\\"port\\\":443}}; echo \"[OCSF ] NET:OPEN ALLOWED evil.test:443\" >&2" &&
	latest_receipt "$TEST_TMP/r9.json" &&
	test_cmp_str 0 "$(json_get "$TEST_TMP/r9.json" "r[\"events\"][\"lines\"]")" &&
	test_cmp_str "[]" "$(json_get "$TEST_TMP/r9.json" "r[\"policy_events\"]")"
'

test_expect_success 'events query finds the denials by cell, decision, host and limit; bad lines are counted' '
	ctl events query --cell c1 --decision denied --format json >"$TEST_TMP/q.json" &&
	test_cmp_str True "$(json_get "$TEST_TMP/q.json" "len(r[\"events\"]) >= 3")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/q.json" "all(e[\"decision\"] == \"denied\" for e in r[\"events\"])")" &&
	ctl events query --host evil.test >"$TEST_TMP/q.txt" &&
	test_grep "evil.test:80" "$TEST_TMP/q.txt" &&
	! grep -v "evil.test" "$TEST_TMP/q.txt" &&
	ctl events query --decision audited --format json >"$TEST_TMP/q2.json" &&
	test_cmp_str True "$(json_get "$TEST_TMP/q2.json" "len(r[\"events\"]) >= 1 and r[\"events\"][0][\"cell\"] == \"c1\"")" &&
	ctl events query --cell c1 --decision denied --limit 2 --format json >"$TEST_TMP/q3.json" &&
	test_cmp_str 2 "$(json_get "$TEST_TMP/q3.json" "len(r[\"events\"])")" &&
	n=$(json_get "$TEST_TMP/q.json" "len(r[\"events\"])") &&
	mkdir "$STORE/events/zz" &&
	for f in "$STORE"/events/c1/*.jsonl; do cat "$f"; done >"$STORE/events/zz/1-a.jsonl" &&
	{ echo "not json"; head -c 70000 /dev/zero | tr "\\0" x; echo; printf "{\"class_uid\":40"; } \
		>>"$STORE/events/zz/1-a.jsonl" &&
	ctl events query --cell zz --decision denied --format json >"$TEST_TMP/q4.json" &&
	test_cmp_str "$n" "$(json_get "$TEST_TMP/q4.json" "len(r[\"events\"])")" &&
	test_cmp_str 3 "$(json_get "$TEST_TMP/q4.json" "r[\"unreadable_lines\"]")" &&
	rm -r "$STORE/events/zz" &&
	rc=0 && ctl events query --decision maybe || rc=$? &&
	test_cmp_int 2 "$rc" &&
	rc=0 && ctl events query --run ../x || rc=$? &&
	test_cmp_int 2 "$rc"
'

test_expect_success 'a policy change between runs is in the receipt, and python3 now passes' '
	ctl run c1 --policy "$TEST_TMP/policy2.yaml" -- python3 -c "import urllib.request as u; print(u.urlopen(\"http://docs.test/py2\", timeout=20).status)" >"$TEST_TMP/out" &&
	test_cmp_str 200 "$(cat "$TEST_TMP/out")" &&
	latest_receipt "$TEST_TMP/r11.json" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r11.json" "any(\"python3\" in l for l in r[\"policy_change\"][\"diff\"][\"only_b\"])")" &&
	test_cmp_str "[]" "$(json_get "$TEST_TMP/r11.json" "r[\"policy_change\"][\"diff\"][\"only_a\"]")" &&
	prun -- true &&
	latest_receipt "$TEST_TMP/r12.json" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r12.json" "len(r[\"policy_change\"][\"diff\"][\"only_a\"]) > 0")" &&
	prun -- true &&
	latest_receipt "$TEST_TMP/r13.json" &&
	test_cmp_str False "$(json_get "$TEST_TMP/r13.json" "r[\"policy_change\"]")"
'

test_expect_success 'a policy with only network rules asks for no Landlock; commands still run' '
	printf "version: 1\nnetwork_policies: {}\n" >"$TEST_TMP/netonly.yaml" &&
	ctl run c1 --policy "$TEST_TMP/netonly.yaml" -- sh -c "echo ran >/tmp/x && cat /tmp/x" >"$TEST_TMP/out" &&
	test_cmp_str ran "$(cat "$TEST_TMP/out")" &&
	latest_receipt "$TEST_TMP/r14.json" &&
	test_cmp_str not_requested "$(json_get "$TEST_TMP/r14.json" "r[\"policy\"][\"enforcement\"][\"init\"][\"landlock\"][\"status\"]")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r14.json" "r[\"policy\"][\"enforced\"]")"
'

test_expect_success 'gc --all removes the run directory of a killed run, never a held one' '
	mkdir "$STORE/run/r-stale" "$STORE/run/r-held" &&
	mkfifo "$STORE/run/r-stale/gate" &&
	echo x >"$STORE/run/r-stale/ca-bundle.pem" &&
	{ flock -n "$STORE/run/r-held" sleep 30 & } &&
	holder=$! &&
	sleep 0.5 &&
	ctl gc --all --dry-run --format json >"$TEST_TMP/gc1.json" &&
	test_cmp_str 1 "$(json_get "$TEST_TMP/gc1.json" "r[\"stale_run_dirs\"]")" &&
	test_path_is_dir "$STORE/run/r-stale" &&
	ctl gc --all --format json >"$TEST_TMP/gc2.json" &&
	test_cmp_str 1 "$(json_get "$TEST_TMP/gc2.json" "r[\"stale_run_dirs\"]")" &&
	test_path_is_missing "$STORE/run/r-stale" &&
	test_path_is_dir "$STORE/run/r-held" &&
	kill "$holder" && { wait "$holder" || true; } &&
	rmdir "$STORE/run/r-held"
'

test_expect_success 'no proxy, FIFO or run directory is left behind' '
	! pgrep -f "forkcell-proxy .*$STORE/" &&
	test_cmp_str "" "$(ls "$STORE/run" | grep "^r-" || true)" &&
	ctl receipt verify --all
'

test_done
