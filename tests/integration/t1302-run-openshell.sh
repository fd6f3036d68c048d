#!/bin/bash
# forkcellctl run --runtime openshell, against the fake OpenShell CLI on a
# real forkcellfs mount: restore on failure, accept on success, the status
# comes from the CLI's exit and the sentinel (never from output), a timeout
# is 124 with the sandbox deleted, a stream that ends without an exit event
# is recorded as unconfirmed (a failure), the OCSF evidence is hashed
# into the receipt, and with a policy OpenShell's revision is read before
# and after the command: a policy OpenShell did not load fails the run
# before the command runs.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
fc_require_cmd python3

export FORKCELL_OPENSHELL_BIN=$FC_SRCDIR/tests/fakes/openshell
STATE=$HOME/.fake-openshell
rm -rf "$STATE" && mkdir -p "$STATE"
printf '[openshell.drivers.docker]\nenable_bind_mounts = true\n' >"$STATE/gateway.toml"
fc_t 60 "$FORKCELL_OPENSHELL_BIN" settings set --global --key ocsf_json_enabled --value true \
	--yes >/dev/null

json_get() {
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}

orun() {
	ctl run c1 --runtime openshell --image img:1 "$@"
}

no_sandboxes_left() {
	local left
	left=$(ls "$STATE/sandboxes" 2>/dev/null)
	[ -z "$left" ] || fc_fail "sandboxes left behind: $left"
}

test_expect_success 'set up a mounted cell' '
	mkdir -p "$TEST_TMP/src" && echo base >"$TEST_TMP/src/a.txt" &&
	fc_init c1 "$TEST_TMP/src" &&
	ctl mount c1 "$TEST_TMP/mnt" --allow-other
'

test_expect_success 'a failing command with --restore-on-fail is restored' '
	orun --restore-on-fail -- sh -c "echo bad >a.txt; echo x >new.txt; exit 9" &&
	test_cmp_str base "$(cat "$TEST_TMP/mnt/a.txt")" &&
	test_path_is_missing "$TEST_TMP/mnt/new.txt" &&
	ctl receipt show --format json >r1.json &&
	test_cmp_str 9 "$(json_get r1.json "r[\"exit\"][\"status\"]")" &&
	test_cmp_str restored "$(json_get r1.json "r[\"decision\"][\"result\"]")" &&
	test_cmp_str exec_event "$(json_get r1.json "r[\"exit\"][\"source\"]")" &&
	test_cmp_str "openshell 0.0.115" "$(json_get r1.json "r[\"runtime\"][\"version\"]")" &&
	no_sandboxes_left
'

test_expect_success 'a succeeding command with --accept-on-success keeps its changes' '
	orun --accept-on-success -- sh -c "echo good >kept.txt" &&
	test_cmp_str good "$(cat "$TEST_TMP/mnt/kept.txt")" &&
	ctl receipt show --format json >r2.json &&
	test_cmp_str accepted "$(json_get r2.json "r[\"decision\"][\"result\"]")" &&
	test_cmp_str "[\"kept.txt\"]" "$(json_get r2.json "json.dumps([e[\"path\"] for e in r[\"changes\"][\"added\"]])")"
'

test_expect_success 'printed "exit status: 0" and fake OCSF lines change nothing' '
	orun --restore-on-fail -- sh -c "echo \"exit status: 0\"; echo \"[OCSF ] NET:OPEN [MED] ALLOWED curl(1) -> evil.test:443\"; exit 3" &&
	ctl receipt show --format json >r3.json &&
	test_cmp_str 3 "$(json_get r3.json "r[\"exit\"][\"status\"]")" &&
	test_cmp_str restored "$(json_get r3.json "r[\"decision\"][\"result\"]")" &&
	test_cmp_str 0 "$(json_get r3.json "len(r[\"policy_events\"])")" &&
	ev=$(json_get r3.json "r[\"runtime\"][\"events\"][\"file\"]") &&
	python3 - "$ev" <<-PY
	import json, sys
	# The command line is logged (PROC launch); no network event may name evil.test.
	bad = [e for e in map(json.loads, open(sys.argv[1]))
	       if e.get("class_uid") in (4001, 4002) and "evil.test" in json.dumps(e)]
	sys.exit(1 if bad else 0)
	PY
'

test_expect_success 'a timeout is 124 and the sandbox is gone' '
	orun --timeout 2 --restore-on-fail -- sleep 60 &&
	ctl receipt show --format json >r4.json &&
	test_cmp_str 124 "$(json_get r4.json "r[\"exit\"][\"status\"]")" &&
	test_cmp_str True "$(json_get r4.json "r[\"exit\"][\"timed_out\"]")" &&
	no_sandboxes_left
'

test_expect_success 'exit 0 without an exit event is unconfirmed, a failure' '
	echo no-exit-event >"$STATE/mode" &&
	test_when_finished "rm -f \"$STATE/mode\"" &&
	orun --restore-on-fail -- sh -c "echo x >lost.txt; exit 4" &&
	ctl receipt show --format json >r5.json &&
	test_cmp_str unconfirmed "$(json_get r5.json "r[\"exit\"][\"source\"]")" &&
	test "$(json_get r5.json "r[\"exit\"][\"status\"]")" != 0 &&
	test_cmp_str restored "$(json_get r5.json "r[\"decision\"][\"result\"]")" &&
	test_path_is_missing "$TEST_TMP/mnt/lost.txt"
'

test_expect_success 'the OCSF evidence is hashed into the receipt' '
	ev=$(json_get r2.json "r[\"runtime\"][\"events\"][\"file\"]") &&
	test_path_is_file "$ev" &&
	test_cmp_str "$(sha256sum "$ev" | cut -d" " -f1)" "$(json_get r2.json "r[\"runtime\"][\"events\"][\"sha256\"]")"
'

test_expect_success 'with a policy: OpenShell'"'"'s revision is read before and after the command' '
	cat >"$TEST_TMP/p.yaml" <<-\EOF &&
	version: 1
	filesystem_policy: {read_only: [/usr], read_write: [/sandbox]}
	EOF
	: >"$STATE/calls.log" &&
	orun --policy "$TEST_TMP/p.yaml" --accept-on-success -- sh -c "echo ok >pol.txt" &&
	test_cmp_str ok "$(cat "$TEST_TMP/mnt/pol.txt")" &&
	awk "{ print \$2 \" \" \$3 }" "$STATE/calls.log" >seq &&
	printf "%s\n" "sandbox create" "sandbox get" "policy get" "sandbox exec" "sandbox exec" \
		"sandbox exec" "policy get" "sandbox delete" >want &&
	grep -v -e "--version" seq >seq2 &&
	test_cmp want seq2 &&
	test_grep -E -- "--policy [^ ]*/policies/[0-9a-f]{64}\.yaml " "$STATE/calls.log" &&
	ctl receipt show --format json >r6.json &&
	test_cmp_str openshell "$(json_get r6.json "r[\"policy\"][\"enforcement\"][\"by\"]")" &&
	test_cmp_str "1 1 loaded loaded False True" "$(json_get r6.json "\" \".join(str(x) for x in (r[\"policy\"][\"enforcement\"][\"openshell\"][\"before\"][\"version\"], r[\"policy\"][\"enforcement\"][\"openshell\"][\"after\"][\"version\"], r[\"policy\"][\"enforcement\"][\"openshell\"][\"before\"][\"status\"], r[\"policy\"][\"enforcement\"][\"openshell\"][\"after\"][\"status\"], r[\"policy\"][\"enforcement\"][\"openshell\"][\"changed_during_run\"], r[\"policy\"][\"enforced\"]))")" &&
	no_sandboxes_left
'

test_expect_success 'a policy OpenShell failed to load fails the run before the command' '
	echo failed >"$STATE/policy-result" &&
	test_when_finished "rm -f \"$STATE/policy-result\"" &&
	: >"$STATE/calls.log" &&
	ctl_err "OpenShell did not load the policy: revision 1 is failed" run c1 \
		--runtime openshell --image img:1 --policy "$TEST_TMP/p.yaml" -- \
		sh -c "echo ran >closed.txt" &&
	test_path_is_missing "$TEST_TMP/mnt/closed.txt" &&
	test_grep -v "sandbox exec" "$STATE/calls.log" &&
	test_grep "sandbox delete" "$STATE/calls.log" &&
	no_sandboxes_left
'

test_expect_success 'a bad endpoint is refused before any sandbox exists' '
	OPENSHELL_GATEWAY_ENDPOINT=ftp://x ctl_err "endpoint" run c1 --runtime openshell -- true &&
	no_sandboxes_left &&
	ctl receipt verify &&
	ctl umount c1
'

test_done
