#!/bin/bash
# forkcellctl run --policy --runtime docker: the static forkcell-init is the
# container's first process (Landlock, seccomp, identity), the container
# has NetworkMode "none", and forkcell-proxy listens inside the
# container's network namespace as its only way out. A denied host gets a
# 403 and a denied event in the receipt; a direct connection has no route;
# a write outside read_write fails under Landlock while the workdir takes
# it. The test runs in a network namespace of its own: nothing outside the
# machine is addressed.
if [ -z "${FC_T1701_NETNS:-}" ]; then
	FC_T1701_NETNS=1 exec unshare -n -- "$BASH" "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
fc_require_cmd python3
[ -x "$FORKCELL_BIN/forkcell-proxy" ] || skip_all "forkcell-proxy is not built"
[ -x "$FORKCELL_BIN/forkcell-init" ] || skip_all "forkcell-init is not built"
fc_require_docker

json_get() {
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}
cat >"$TEST_TMP/policy.yaml" <<'EOF'
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/bin, /sbin, /usr, /etc, /proc, /dev]
landlock:
  compatibility: best_effort
network_policies:
  docs:
    endpoints:
      - {host: docs.test, port: 80, protocol: rest, access: read-only}
    binaries: [{path: /bin/busybox}]
EOF
drun() {
	hctl run polc --runtime docker --image "$IMAGE" --policy "$TEST_TMP/policy.yaml" "$@"
}

test_expect_success 'set up a cell mounted in dockerd'"'"'s namespace' '
	ip link set lo up &&
	mkdir -p "$TEST_TMP/src" && echo base >"$TEST_TMP/src/a.txt" &&
	fc_init polc "$TEST_TMP/src" &&
	hctl mount polc "$TEST_TMP/mnt" --allow-other
'
fc_docker_umount_on_exit polc

test_expect_success 'a denied host gets a 403 from the proxy and a denied event' '
	drun -- sh -c "printf \"GET http://evil.test/x HTTP/1.1\\r\\nHost: evil.test\\r\\nConnection: close\\r\\n\\r\\n\" | nc -w 10 127.0.0.1 3128 | head -1" >out &&
	test_grep "^HTTP/1.1 403" out &&
	hctl receipt show --format json >r1.json &&
	test_cmp_str True "$(json_get r1.json "r[\"policy\"][\"enforced\"]")" &&
	test_cmp_str True "$(json_get r1.json "any(e[\"decision\"] == \"denied\" and e[\"dst\"] == \"evil.test:80\" for e in r[\"policy_events\"])")" &&
	test_cmp_str /bin/busybox "$(json_get r1.json "r[\"policy_events\"][0][\"binary\"]")"
'

test_expect_success 'a direct connection has no route out of the container' '
	drun -- sh -c "nc -w 3 10.231.0.2 80 </dev/null && echo connected || echo failed" >out &&
	test_grep "^failed" out
'

test_expect_success 'Landlock: /tmp is not writable, the workdir is' '
	drun -- sh -c "echo x >/tmp/t 2>/dev/null && echo wrote-tmp; echo y >w.txt && echo wrote-workdir" >out &&
	test_cmp_str wrote-workdir "$(cat out)" &&
	test_cmp_str y "$(hcat "$TEST_TMP/mnt/w.txt")" &&
	hctl receipt show --format json >r3.json &&
	test_cmp_str enforced "$(json_get r3.json "r[\"policy\"][\"enforcement\"][\"init\"][\"landlock\"][\"status\"]")" &&
	test_cmp_str enforced "$(json_get r3.json "r[\"policy\"][\"enforcement\"][\"init\"][\"seccomp\"]")"
'

test_expect_success 'no container, proxy or run directory is left behind' '
	test_cmp_str "" "$(docker ps -aq --filter label=forkcell.cell=polc)" &&
	! pgrep -f "forkcell-proxy .*$STORE/" &&
	test_cmp_str "" "$(ls "$STORE/run" | grep "^r-" || true)"
'

test_done
