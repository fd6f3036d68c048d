#!/bin/bash
# The openshell runtime (ctl/runtime_openshell.c) against the fake CLI,
# driven through runtime_ops by tests/helpers/os_runtime_drive.c as
# `forkcellctl run` will: the call sequence of reference §2.1, the exit
# rules of §2.3 (exec event, sentinel, timeout 124, unconfirmed, runtime
# error), the forgery case, the OCSF evidence, the env allow-list,
# OpenShell's policy revision read before and after the command (fail
# closed when it is not loaded), and `sandbox delete` on every path.
. "$(dirname "$0")/lib.sh"

[ -x /usr/bin/python3 ] || skip_all "needs /usr/bin/python3 (the fake openshell CLI)"
DRIVE=$(fc_helper os_runtime_drive)
[ -x "$DRIVE" ] || skip_all "os_runtime_drive not built in $FORKCELL_BIN"
export FORKCELL_OPENSHELL_BIN=$FC_SRCDIR/tests/fakes/openshell
# HOME passes the runtime's env allow-list: the fake keeps its state there.
STATE=$HOME/.fake-openshell
# shellcheck disable=SC2034 # used in the eval'd test bodies
CALLS=$STATE/calls.log
WORK=$TEST_TMP/work
mkdir -p "$STATE" "$WORK"
printf '[openshell.drivers.docker]\nenable_bind_mounts = true\n' >"$STATE/gateway.toml"
fc_t 60 "$FORKCELL_OPENSHELL_BIN" settings set --global --key ocsf_json_enabled --value true \
	--yes >/dev/null

# drive RUN_ID [drive options] -- ARGV...: result in $TEST_TMP/RUN_ID.res,
# events in $TEST_TMP/RUN_ID.jsonl, output in RUN_ID.out/.err; returns drive's status.
drive() {
	local id=$1
	shift
	fc_t 300 "$DRIVE" --result "$TEST_TMP/$id.res" --cell demo --mount "$WORK" --run-id "$id" \
		--events "$TEST_TMP/$id.jsonl" "$@" >"$TEST_TMP/$id.out" 2>"$TEST_TMP/$id.err" </dev/null
}

# res RUN_ID KEY: one field of a result.
res() {
	sed -n "s/^$2=//p" "$TEST_TMP/$1.res"
}

# evidence RUN_ID: the policy_evidence of a result, as one JSON line.
evidence() {
	res "$1" policy_evidence
}

# The helper prints the policy fields once it knows them.
have_evidence() {
	grep -q '^policy_evidence=' "$TEST_TMP/run1ok.res"
}

# ev RUN_ID EXPR: a Python expression over e, the run's policy evidence.
ev() {
	evidence "$1" | python3 -c "import json,sys; e=json.load(sys.stdin); print($2)"
}

no_sandboxes_left() {
	local left
	left=$(ls "$STATE/sandboxes")
	[ -z "$left" ] || fc_fail "sandboxes left behind: $left"
}

test_expect_success 'a run: §2.1 call sequence, exec_event status, changes in the mount' '
	echo "version: 1" >"$TEST_TMP/p.yaml" && : >"$CALLS" &&
	drive run1ok --timeout 60 --image img:1 --policy "$TEST_TMP/p.yaml" -- \
		sh -c "echo changed > result.txt; echo to-stdout" &&
	test_cmp_str 0 "$(res run1ok status)" &&
	test_cmp_str exec_event "$(res run1ok exit_source)" &&
	test_cmp_str "openshell 0.0.115" "$(res run1ok version)" &&
	test_cmp_str fc-demo-run1ok "$(res run1ok sandbox_name)" &&
	test_cmp_str changed "$(cat "$WORK/result.txt")" &&
	test_cmp_str to-stdout "$(cat "$TEST_TMP/run1ok.out")" &&
	awk "{ print (\$2 == \"--version\") ? \$2 : \$2 \" \" \$3 }" "$CALLS" >seq &&
	printf "%s\n" --version "sandbox create" "sandbox get" "policy get" "sandbox exec" \
		"sandbox exec" "sandbox exec" "policy get" "sandbox delete" >want &&
	test_cmp want seq &&
	test_grep -F -- "--from img:1 --policy $TEST_TMP/p.yaml --no-auto-providers" "$CALLS" &&
	test_grep -F -- "--label forkcell.run=run1ok --detach -- sleep infinity" "$CALLS" &&
	test_grep -F -- "--workdir /sandbox/work --timeout 60 --" "$CALLS" &&
	test_grep -F -- "cat /sandbox/.fc/exit-run1ok" "$CALLS" &&
	test_grep -F -- "cat /var/log/openshell-ocsf.$(date -u +%F).log" "$CALLS" &&
	test_grep -F -- "policy get fc-demo-run1ok -o json" "$CALLS" &&
	test_grep -v "not loaded throughout" "$TEST_TMP/run1ok.err" &&
	no_sandboxes_left
'

if have_evidence; then
	test_expect_success 'the policy evidence: OpenShell revision before and after, loaded' '
		h=$(sha256sum <"$TEST_TMP/p.yaml" | cut -d" " -f1) &&
		test_cmp_str 1 "$(res run1ok policy_loaded)" &&
		test_cmp_str "{\"before\":{\"version\":1,\"hash\":\"$h\",\"status\":\"loaded\"},\"after\":{\"version\":1,\"hash\":\"$h\",\"status\":\"loaded\"},\"changed_during_run\":false}" \
			"$(evidence run1ok)"
	'
else
	test_skip 'the policy evidence: OpenShell revision before and after, loaded' \
		"tests/helpers/os_runtime_drive.c does not print policy_evidence yet"
fi

test_expect_success 'the OCSF JSONL is kept, hashed and counted' '
	test_cmp_str 1 "$(res run1ok events_complete)" &&
	test_cmp_str "$(wc -l <"$TEST_TMP/run1ok.jsonl")" "$(res run1ok events_lines)" &&
	test_cmp_str "$(sha256sum <"$TEST_TMP/run1ok.jsonl" | cut -d" " -f1)" \
		"$(res run1ok events_sha256)" &&
	python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" \
		"$TEST_TMP/run1ok.jsonl"
'

test_expect_success 'forgery: "exit status: 0" and fake OCSF lines change neither status nor events' '
	drive run2base --timeout 60 -- sh -c "exit 3" &&
	drive run2forge --timeout 60 -- sh -c "echo \"exit status: 0\"; \
		echo \"[1.000] [sandbox] [OCSF ] [ocsf] NET:OPEN [INFO] ALLOWED /usr/bin/curl(1) -> evil.test:443\"; \
		echo \"exit status: 0\" >&2; exit 3" &&
	test_cmp_str 3 "$(res run2forge status)" &&
	test_cmp_str exec_event "$(res run2forge exit_source)" &&
	test_grep -F "exit status: 0" "$TEST_TMP/run2forge.out" &&
	test_cmp_str "$(res run2base events_lines)" "$(res run2forge events_lines)" &&
	python3 - "$TEST_TMP/run2forge.jsonl" <<-\EOF
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	assert not [r for r in recs if r["class_uid"] in (4001, 4002) or "action" in r], recs
	EOF
'

test_expect_success 'without a policy: no policy get, no evidence' '
	: >"$CALLS" &&
	drive run2nop --timeout 60 -- true &&
	test_grep -v "policy get" "$CALLS" &&
	test_cmp_str "" "$(evidence run2nop)" &&
	test_cmp_str "" "$(res run2nop policy_loaded | grep -v "^0$")"
'

test_expect_success 'policy failed in OpenShell: fail closed before the command, sandbox deleted' '
	echo failed >"$STATE/policy-result" &&
	test_when_finished "rm -f \"$STATE/policy-result\"" &&
	: >"$CALLS" &&
	rc=0 && drive run14pf --timeout 60 --policy "$TEST_TMP/p.yaml" -- touch ran || rc=$? &&
	test_cmp_int 1 $rc &&
	test_cmp_str create "$(res run14pf phase)" &&
	test_grep "OpenShell did not load the policy: revision 1 is failed: policy rejected" \
		"$TEST_TMP/run14pf.res" &&
	test_grep "the command was not run" "$TEST_TMP/run14pf.res" &&
	test_path_is_missing "$WORK/ran" &&
	test_grep -v "sandbox exec" "$CALLS" &&
	test_grep -F "sandbox delete fc-demo-run14pf" "$CALLS" &&
	no_sandboxes_left
'

test_expect_success 'policy still pending in OpenShell: fail closed too' '
	echo timeout >"$STATE/policy-result" &&
	test_when_finished "rm -f \"$STATE/policy-result\"" &&
	rc=0 && drive run15pp --timeout 60 --policy "$TEST_TMP/p.yaml" -- touch ran || rc=$? &&
	test_cmp_int 1 $rc &&
	test_grep "revision 1 is pending; the command was not run" "$TEST_TMP/run15pp.res" &&
	test_path_is_missing "$WORK/ran" &&
	no_sandboxes_left
'

test_expect_success 'the first policy get fails: fail closed' '
	echo transport-error >"$STATE/policy-get" &&
	test_when_finished "rm -f \"$STATE/policy-get\"" &&
	rc=0 && drive run16pg --timeout 60 --policy "$TEST_TMP/p.yaml" -- touch ran || rc=$? &&
	test_cmp_int 1 $rc &&
	test_grep "cannot tell whether OpenShell loaded the policy (openshell policy get failed (exit 1): error: transport error)" \
		"$TEST_TMP/run16pg.res" &&
	test_path_is_missing "$WORK/ran" &&
	no_sandboxes_left
'

test_expect_success 'the second policy get fails: recorded, the run stands' '
	test_when_finished "rm -f \"$STATE/policy-get\"" &&
	drive run17ag --timeout 60 --policy "$TEST_TMP/p.yaml" -- \
		sh -c "echo transport-error >\"\$1\"" fc "$STATE/policy-get" &&
	test_cmp_str 0 "$(res run17ag status)" &&
	test_grep "not loaded throughout the run: .*\"after\":null,\"after_error\":\"openshell policy get failed (exit 1): error: transport error\",\"changed_during_run\":null}" \
		"$TEST_TMP/run17ag.err" &&
	no_sandboxes_left
'

test_expect_success 'a policy change during the run is recorded, the run stands' '
	echo "version: 2" >"$TEST_TMP/p2.yaml" &&
	drive run18ch --timeout 60 --policy "$TEST_TMP/p.yaml" -- \
		env FAKE_OPENSHELL_STATE="$STATE" "$FORKCELL_OPENSHELL_BIN" policy set fc-demo-run18ch \
		--policy "$TEST_TMP/p2.yaml" &&
	test_cmp_str 0 "$(res run18ch status)" &&
	h2=$(sha256sum <"$TEST_TMP/p2.yaml" | cut -d" " -f1) &&
	test_grep -F "\"after\":{\"version\":2,\"hash\":\"$h2\",\"status\":\"loaded\"},\"changed_during_run\":true}" \
		"$TEST_TMP/run18ch.err" &&
	no_sandboxes_left
'

if have_evidence; then
	test_expect_success 'the policy evidence of a failed second read and of a change' '
		test_cmp_str 0 "$(res run17ag policy_loaded)" &&
		test_cmp_str "None True True" \
			"$(ev run17ag "e[\"after\"], \"transport error\" in e[\"after_error\"], e[\"changed_during_run\"] is None")" &&
		test_cmp_str 0 "$(res run18ch policy_loaded)" &&
		test_cmp_str "1 2 True" \
			"$(ev run18ch "e[\"before\"][\"version\"], e[\"after\"][\"version\"], e[\"changed_during_run\"]")" &&
		test_cmp_str 1 "$(ev run14pf "int(e[\"before\"][\"status\"] == \"failed\" and e[\"after\"] is None)")"
	'
else
	test_skip 'the policy evidence of a failed second read and of a change' \
		"tests/helpers/os_runtime_drive.c does not print policy_evidence yet"
fi

test_expect_success 'a builtin command (exit) still gets its sentinel' '
	drive run3exit --timeout 60 -- exit 0 &&
	test_cmp_str 0 "$(res run3exit status)" &&
	test_cmp_str exec_event "$(res run3exit exit_source)"
'

test_expect_success 'timeout: recorded as 124, timed_out, and the sandbox is deleted' '
	drive run4slow --timeout 2 -- sleep 60 &&
	test_cmp_str 124 "$(res run4slow status)" &&
	test_cmp_str 1 "$(res run4slow timed_out)" &&
	test_cmp_str timeout_124 "$(res run4slow exit_source)" &&
	no_sandboxes_left
'

test_expect_success 'no-exit-event via the state dir mode file: unconfirmed, 125, a failure' '
	echo no-exit-event >"$STATE/mode" &&
	test_when_finished "rm -f \"$STATE/mode\"" &&
	drive run6lost --timeout 60 -- sh -c "exit 0" &&
	test_cmp_str 125 "$(res run6lost status)" &&
	test_cmp_str unconfirmed "$(res run6lost exit_source)" &&
	test_cmp_str 0 "$(res run6lost cli_status)" &&
	no_sandboxes_left
'

test_expect_success 'exit event lost but the sentinel written: the sentinel value (3)' '
	echo no-exit-event-keep-sentinel >"$STATE/mode" &&
	test_when_finished "rm -f \"$STATE/mode\"" &&
	drive run7sent --timeout 60 -- sh -c "exit 3" &&
	test_cmp_str 3 "$(res run7sent status)" &&
	test_cmp_str sentinel "$(res run7sent exit_source)" &&
	test_cmp_str 0 "$(res run7sent cli_status)"
'

test_expect_success 'transport error: a runtime error, never a status; sandbox deleted' '
	echo transport-error >"$STATE/mode" &&
	test_when_finished "rm -f \"$STATE/mode\"" &&
	rc=0 && drive run8tx --timeout 60 -- touch ran || rc=$? &&
	test_cmp_int 1 $rc &&
	test_cmp_str exec "$(res run8tx phase)" &&
	test_cmp_str runtime_error "$(res run8tx exit_source)" &&
	test_grep "transport error" "$TEST_TMP/run8tx.res" &&
	test_path_is_missing "$WORK/ran" &&
	test_grep -F "sandbox delete fc-demo-run8tx" "$CALLS" &&
	no_sandboxes_left
'

test_expect_success 'create failure (main process ended): error, and the sandbox is deleted' '
	echo attached-create >"$STATE/mode" &&
	test_when_finished "rm -f \"$STATE/mode\"" &&
	rc=0 && drive run9att --timeout 60 -- true || rc=$? &&
	test_cmp_int 1 $rc &&
	test_cmp_str create "$(res run9att phase)" &&
	test_grep "ssh exited with status" "$TEST_TMP/run9att.res" &&
	test_grep -F "sandbox delete fc-demo-run9att" "$CALLS" &&
	no_sandboxes_left
'

test_expect_success 'bind mounts disabled at the gateway: create fails cleanly' '
	mv "$STATE/gateway.toml" "$STATE/gateway.off" &&
	test_when_finished "mv \"$STATE/gateway.off\" \"$STATE/gateway.toml\"" &&
	rc=0 && drive run10nb -- true || rc=$? &&
	test_cmp_int 1 $rc &&
	test_grep "enable_bind_mounts" "$TEST_TMP/run10nb.res"
'

test_expect_success 'an endpoint without http(s):// is refused before any CLI call' '
	n=$(wc -l <"$CALLS") &&
	rc=0 && OPENSHELL_GATEWAY_ENDPOINT=127.0.0.1:17670 drive run11ep -- true || rc=$? &&
	test_cmp_int 1 $rc &&
	test_cmp_str probe "$(res run11ep phase)" &&
	test_grep "http://" "$TEST_TMP/run11ep.res" &&
	test_cmp_str "$n" "$(wc -l <"$CALLS")"
'

test_expect_success 'the CLI gets only the env allow-list (plus the endpoint)' '
	: >"$STATE/env.log" &&
	FC_CANARY_SECRET=x OPENSHELL_GATEWAY_ENDPOINT=http://127.0.0.1:17670 \
		drive run12env --timeout 60 -- true &&
	test_grep -v FC_CANARY_SECRET "$STATE/env.log" &&
	test_grep -v FORKCELL_OPENSHELL_BIN "$STATE/env.log" &&
	test_grep -w OPENSHELL_GATEWAY_ENDPOINT "$STATE/env.log"
'

test_expect_success 'a workdir outside the mount is refused' '
	rc=0 && drive run13wd --workdir /etc -- true || rc=$? &&
	test_cmp_int 1 $rc &&
	test_grep "not inside it" "$TEST_TMP/run13wd.res" &&
	no_sandboxes_left
'

test_done
