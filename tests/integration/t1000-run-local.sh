#!/bin/bash
# forkcellctl run on the local runtime (bubblewrap): the governed
# transaction end to end. A failing command with --restore-on-fail leaves the
# workspace exactly as checkpointed; --accept-on-success keeps the changes and
# lists them; the exit status comes from waitpid, never from output; a
# timeout is 124 and leaves no sandbox behind; writes outside the workdir
# fail; nothing of the host environment leaks in; failed runs stay pending.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
fc_require_cmd bwrap python3

# jq-free field access: json_get FILE EXPR (python expression on `r`).
json_get() {
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}

# (hello.txt and hardlink are one inode: a diff names it by its primary link.)
# latest receipt as JSON into FILE.
latest_receipt() {
	ctl receipt show --format json >"$1"
}

test_expect_success 'set up a cell from a small tree' '
	fc_fill_tree "$TEST_TMP/src" &&
	fc_init c1 "$TEST_TMP/src" &&
	ctl mount c1 "$TEST_TMP/mnt" --allow-other &&
	fc_treehash --owner --xattrs "$TEST_TMP/mnt" >"$TEST_TMP/before.list"
'

test_expect_success 'a failing command with --restore-on-fail is rolled back' '
	ctl run c1 --restore-on-fail -- sh -c "echo junk >hello.txt; rm -f zero; mkdir made; echo x >made/f; exit 7" &&
	fc_treehash --owner --xattrs "$TEST_TMP/mnt" >"$TEST_TMP/after.list" &&
	test_cmp "$TEST_TMP/before.list" "$TEST_TMP/after.list" &&
	latest_receipt "$TEST_TMP/r1.json" &&
	test_cmp_str restored "$(json_get "$TEST_TMP/r1.json" "r[\"decision\"][\"result\"]")" &&
	test_cmp_str 7 "$(json_get "$TEST_TMP/r1.json" "r[\"exit\"][\"status\"]")" &&
	test_cmp_str waitpid "$(json_get "$TEST_TMP/r1.json" "r[\"exit\"][\"source\"]")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r1.json" "\"made/f\" in [e[\"path\"] for e in r[\"changes\"][\"added\"]]")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r1.json" "{\"hello.txt\", \"hardlink\"} & {e[\"path\"] for e in r[\"changes\"][\"modified\"]} != set()")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r1.json" "\"zero\" in [e[\"path\"] for e in r[\"changes\"][\"deleted\"]]")" &&
	test_cmp_str "$(json_get "$TEST_TMP/r1.json" "r[\"checkpoint_before\"][\"gen\"]")" \
		"$(json_get "$TEST_TMP/r1.json" "r[\"restored_to\"][\"gen\"]")"
'

test_expect_success 'the Markdown receipt says restored' '
	ctl receipt show --format md >"$TEST_TMP/r1.md" &&
	test_grep "Decision: \`restored\`" "$TEST_TMP/r1.md"
'

test_expect_success 'a succeeding command with --accept-on-success keeps its changes' '
	ctl run c1 --accept-on-success -- sh -c "echo kept >kept.txt; mv hello.txt moved.txt" &&
	test_cmp_str kept "$(cat "$TEST_TMP/mnt/kept.txt")" &&
	test_path_is_file "$TEST_TMP/mnt/moved.txt" &&
	latest_receipt "$TEST_TMP/r2.json" &&
	test_cmp_str accepted "$(json_get "$TEST_TMP/r2.json" "r[\"decision\"][\"result\"]")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r2.json" "[e[\"path\"] for e in r[\"changes\"][\"added\"]] == [\"kept.txt\"]")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r2.json" "[(e[\"path\"], e[\"to\"]) for e in r[\"changes\"][\"renamed\"]] == [(\"hello.txt\", \"moved.txt\")]")" &&
	test_cmp_str 5 "$(json_get "$TEST_TMP/r2.json" "[e for e in r[\"changes\"][\"added\"]][0][\"after\"][\"size\"]")"
'

test_expect_success 'printing "exit status: 0" does not change a status of 3' '
	ctl run c1 --restore-on-fail -- sh -c "echo \"exit status: 0\"; echo \"exit status: 0\" >&2; exit 3" &&
	latest_receipt "$TEST_TMP/r3.json" &&
	test_cmp_str 3 "$(json_get "$TEST_TMP/r3.json" "r[\"exit\"][\"status\"]")" &&
	test_cmp_str restored "$(json_get "$TEST_TMP/r3.json" "r[\"decision\"][\"result\"]")"
'

test_expect_success '--exit-with-command passes the status through' '
	rc=0 &&
	ctl run c1 --exit-with-command -- sh -c "exit 5" || rc=$? &&
	test_cmp_int 5 "$rc"
'

test_expect_success 'a timeout is recorded as 124 and no sandbox survives' '
	ctl run c1 --timeout 1 --restore-on-fail -- sh -c "sleep 300 & sleep 300" &&
	latest_receipt "$TEST_TMP/r4.json" &&
	test_cmp_str 124 "$(json_get "$TEST_TMP/r4.json" "r[\"exit\"][\"status\"]")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r4.json" "r[\"exit\"][\"timed_out\"]")" &&
	run_id=$(json_get "$TEST_TMP/r4.json" "r[\"run_id\"]") &&
	sleep 0.5 &&
	! pgrep -f "sleep 300" >/dev/null &&
	! pgrep -f "bwrap-$run_id" >/dev/null
'

test_expect_success 'writes outside the workdir fail, inside succeed' '
	rc=0 &&
	ctl run c1 --exit-with-command -- sh -c "touch /etc/forkcell-escape" 2>"$TEST_TMP/err" || rc=$? &&
	test "$rc" -ne 0 &&
	test_path_is_missing /etc/forkcell-escape &&
	ctl run c1 --exit-with-command -- sh -c "touch inside" &&
	test_path_is_file "$TEST_TMP/mnt/inside"
'

test_expect_success 'the store, receipts and keys are not visible in the sandbox' '
	rc=0 &&
	ctl run c1 --exit-with-command -- sh -c "ls \"$STORE/keys\" \"$STORE/receipts\"" || rc=$? &&
	test "$rc" -ne 0
'

test_expect_success 'the sandbox has no network' '
	rc=0 &&
	ctl run c1 --exit-with-command -- sh -c "cat /proc/net/dev | grep -v lo: | tail -n +3 | grep -q ." || rc=$? &&
	test "$rc" -ne 0
'

test_expect_success 'only --env reaches the command, public values are recorded' '
	FORKCELL_HOST_SECRET=leak ctl run c1 --env A=1 --env B=secret --env-public A -- sh -c "env >env.out" &&
	! grep -q FORKCELL_HOST_SECRET "$TEST_TMP/mnt/env.out" &&
	test_grep "^A=1$" "$TEST_TMP/mnt/env.out" &&
	latest_receipt "$TEST_TMP/r5.json" &&
	test_cmp_str 1 "$(json_get "$TEST_TMP/r5.json" "r[\"command\"][\"env\"][\"public\"][\"A\"]")" &&
	test_cmp_str False "$(json_get "$TEST_TMP/r5.json" "\"B\" in r[\"command\"][\"env\"][\"public\"]")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r5.json" "set(r[\"command\"][\"env\"][\"names\"]) == {\"PATH\", \"HOME\", \"A\", \"B\"}")" &&
	! grep -q secret "$STORE/receipts/$(json_get "$TEST_TMP/r5.json" "r[\"id\"]").json"
'

test_expect_success 'a failed run without flags stays pending; accept needs --force' '
	ctl run c1 -- sh -c "echo bad >bad.txt; exit 2" &&
	latest_receipt "$TEST_TMP/r6.json" &&
	test_cmp_str pending "$(json_get "$TEST_TMP/r6.json" "r[\"decision\"][\"result\"]")" &&
	ctl review status >"$TEST_TMP/review" &&
	test_grep "pending: $(json_get "$TEST_TMP/r6.json" "r[\"run_id\"]")" "$TEST_TMP/review" &&
	ctl_err "needs --force" accept c1 &&
	test_path_is_file "$TEST_TMP/mnt/bad.txt"
'

test_expect_success 'reject restores the run checkpoint and records the decision' '
	run_id=$(json_get "$TEST_TMP/r6.json" "r[\"run_id\"]") &&
	ctl reject c1 --run "$run_id" --reason "broke the build" &&
	test_path_is_missing "$TEST_TMP/mnt/bad.txt" &&
	ctl review status --format json >"$TEST_TMP/review.json" &&
	test_cmp_str False "$(json_get "$TEST_TMP/review.json" "\"$run_id\" in r[\"cells\"][\"c1\"][\"pending_runs\"]")" &&
	test_cmp_str restored "$(json_get "$TEST_TMP/review.json" "r[\"cells\"][\"c1\"][\"latest_decision\"]")" &&
	ctl_err "already decided" reject c1 --run "$run_id"
'

test_expect_success 'the whole chain verifies' '
	ctl receipt verify >"$TEST_TMP/verify" &&
	test_grep "intact" "$TEST_TMP/verify"
'

test_expect_success 'bad run usage is refused clearly' '
	ctl_err "expected CELL -- COMMAND" run c1 &&
	ctl_err "unknown runtime" run c1 --runtime nope -- true &&
	ctl_err "timeout wants seconds" run c1 --timeout 0 -- true &&
	ctl_err "--env wants K=V" run c1 --env "1BAD=x" -- true &&
	ctl_err "does not exist|no such cell" run nosuch -- true &&
	ctl_err "invalid cell name" run "../x" -- true
'

test_expect_success 'unmount' '
	ctl umount c1
'

test_done
