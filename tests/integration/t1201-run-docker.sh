#!/bin/bash
# forkcellctl run --runtime docker against a real dockerd and the image
# built by `make docker-image`: the cell's FUSE mount (allow_other) is bound
# into the container; restore on failure, accept on success, the status
# from the engine's wait (never from output), a timeout is 124 with the
# container removed, writes outside the workdir fail (read-only rootfs), no
# network.
#
# dockerd resolves bind sources in its own mount namespace, so forkcellctl
# runs there (nsenter) instead of in lib.sh's private namespace.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
fc_require_cmd python3
fc_require_docker

json_get() {
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}
drun() {
	hctl run c1 --runtime docker --image "$IMAGE" "$@"
}
no_containers_left() {
	local left
	left=$(docker ps -aq --filter label=forkcell.cell=c1)
	[ -z "$left" ] || fc_fail "containers left behind: $left"
}

test_expect_success 'set up a cell mounted in dockerd'"'"'s namespace' '
	mkdir -p "$TEST_TMP/src" && echo base >"$TEST_TMP/src/a.txt" &&
	fc_init c1 "$TEST_TMP/src" &&
	hctl mount c1 "$TEST_TMP/mnt" --allow-other
'
fc_docker_umount_on_exit c1

test_expect_success 'a failing command with --restore-on-fail is restored' '
	drun --restore-on-fail -- sh -c "echo bad >a.txt; echo x >new.txt; exit 9" &&
	test_cmp_str base "$(hcat "$TEST_TMP/mnt/a.txt")" &&
	hctl receipt show --format json >r1.json &&
	test_cmp_str 9 "$(json_get r1.json "r[\"exit\"][\"status\"]")" &&
	test_cmp_str engine_wait "$(json_get r1.json "r[\"exit\"][\"source\"]")" &&
	test_cmp_str "$(docker image inspect --format "{{.Id}}" "$IMAGE")" \
		"$(json_get r1.json "r[\"runtime\"][\"image_id\"]")" &&
	test_cmp_str restored "$(json_get r1.json "r[\"decision\"][\"result\"]")" &&
	no_containers_left
'

test_expect_success 'a succeeding command with --accept-on-success keeps and lists its changes' '
	drun --accept-on-success -- sh -c "echo good >kept.txt" &&
	test_cmp_str good "$(hcat "$TEST_TMP/mnt/kept.txt")" &&
	hctl receipt show --format json >r2.json &&
	test_cmp_str accepted "$(json_get r2.json "r[\"decision\"][\"result\"]")" &&
	test_cmp_str "[\"kept.txt\"]" "$(json_get r2.json "json.dumps([e[\"path\"] for e in r[\"changes\"][\"added\"]])")"
'

test_expect_success 'printing "exit status: 0" does not hide a status of 3' '
	drun --restore-on-fail -- sh -c "echo \"exit status: 0\"; exit 3" &&
	hctl receipt show --format json >r3.json &&
	test_cmp_str 3 "$(json_get r3.json "r[\"exit\"][\"status\"]")" &&
	test_cmp_str restored "$(json_get r3.json "r[\"decision\"][\"result\"]")"
'

test_expect_success 'a timeout is 124 and the container is removed' '
	drun --timeout 2 --restore-on-fail -- sleep 60 &&
	hctl receipt show --format json >r4.json &&
	test_cmp_str 124 "$(json_get r4.json "r[\"exit\"][\"status\"]")" &&
	no_containers_left
'

test_expect_success 'writes outside the workdir fail; no network' '
	rc=0 &&
	drun --exit-with-command -- sh -c "touch /etc/escape" || rc=$? &&
	test "$rc" -ne 0 &&
	rc=0 &&
	drun --exit-with-command -- sh -c "nc -w 2 127.0.0.1 1 </dev/null; ip link 2>/dev/null | grep -q eth0" || rc=$? &&
	test "$rc" -ne 0 &&
	no_containers_left
'

test_expect_success 'the chain verifies; unmount' '
	hctl receipt verify &&
	hctl umount c1
'

test_done
