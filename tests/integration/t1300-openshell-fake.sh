#!/bin/bash
# The fake `openshell` CLI (tests/fakes/openshell) follows the real CLI's
# contract (upstream/openshell-contract.md): it rejects the argument
# combinations the real CLI rejects, refuses bind mounts unless the gateway
# setting enables them, replays the documented outputs and failure modes
# (exit 124, exit 0 without an exit event, transport errors, attached
# create), and records every call.
. "$(dirname "$0")/lib.sh"

[ -x /usr/bin/python3 ] || skip_all "needs /usr/bin/python3 (the fake openshell CLI)"
FAKE=$FC_SRCDIR/tests/fakes/openshell
export FAKE_OPENSHELL_STATE=$TEST_TMP/fake
WORK=$TEST_TMP/work
mkdir -p "$WORK" "$FAKE_OPENSHELL_STATE"
BIND="{\"docker\":{\"mounts\":[{\"type\":\"bind\",\"source\":\"$WORK\",\"target\":\"/sandbox/work\",\"read_only\":false}]}}"
echo "$BIND" >"$TEST_TMP/bind.json"

os() { fc_t 60 "$FAKE" "$@"; }

# os_fails CODE REGEX ARGS...: the fake must exit CODE with stderr matching REGEX.
os_fails() {
	local code=$1 re=$2 rc=0
	shift 2
	os "$@" >"$TEST_TMP/.os_out" 2>"$TEST_TMP/.os_err" </dev/null || rc=$?
	test_cmp_int "$code" "$rc" || { cat "$TEST_TMP/.os_err" >&2; return 1; }
	grep -Eq -- "$re" "$TEST_TMP/.os_err" || fc_fail "stderr does not match /$re/: $(cat "$TEST_TMP/.os_err")"
}

enable_bind() {
	printf '[openshell.drivers.docker]\nenable_bind_mounts = true\n' \
		>"$FAKE_OPENSHELL_STATE/gateway.toml"
}

mk_sandbox() {
	os sandbox create --name "$1" --no-auto-providers --driver-config-json "$BIND" \
		--label forkcell.run="$1" --detach -- sleep infinity </dev/null
}

test_expect_success '--version prints the pinned release' '
	os --version >out &&
	want=$(sed -n "s/^version *= *\"\(.*\)\"/\1/p" "$FC_SRCDIR/upstream/openshell.lock") &&
	test_cmp_str "openshell $want" "$(cat out)"
'

test_expect_success 'create -o json with a trailing command is refused (exit 2)' '
	os_fails 2 "cannot be used with" sandbox create --name a -o json -- true
'

test_expect_success 'create --upload with a trailing command is refused (exit 2)' '
	os_fails 2 "--upload.*cannot be used with" sandbox create --name a --upload "$WORK" -- ls
'

test_expect_success 'create -o with --no-keep or --editor is refused (exit 2)' '
	os_fails 2 "cannot be used with .--no-keep" sandbox create -o json --no-keep &&
	os_fails 2 "cannot be used with .--editor" sandbox create -o json --editor vim
'

test_expect_success 'unknown flags are refused (exit 2)' '
	os_fails 2 "unexpected argument .--bogus" sandbox create --bogus &&
	os_fails 2 "unexpected argument .--frob" sandbox exec -n a --frob -- true &&
	os_fails 2 "unexpected argument .--nope" --nope sandbox list &&
	os_fails 2 "unrecognized subcommand" sandbox frobnicate
'

test_expect_success 'exec without a command or without --name is refused (exit 2)' '
	os_fails 2 "<COMMAND>" sandbox exec -n a --no-tty &&
	os_fails 2 "<COMMAND>" sandbox exec -n a -- &&
	os_fails 2 "--name <NAME>" sandbox exec --no-tty -- true
'

test_expect_success 'bad values are refused (exit 2)' '
	os_fails 2 "invalid digit" sandbox exec -n a --timeout soon -- true &&
	os_fails 2 "KEY=VALUE" sandbox exec -n a --env NOVALUE -- true &&
	os_fails 2 "KEY=VALUE" sandbox create --label justakey &&
	os_fails 2 "possible values" sandbox create -o xml &&
	os_fails 2 "cannot be used with" sandbox exec -n a --tty --no-tty -- true
'

test_expect_success 'a bind mount is refused unless the gateway enables it (patch 0001)' '
	rm -f "$FAKE_OPENSHELL_STATE/gateway.toml" &&
	os_fails 1 "enable_bind_mounts = true" sandbox create --name nb \
		--driver-config-json "$BIND" --detach -- sleep infinity &&
	test_path_is_missing "$FAKE_OPENSHELL_STATE/sandboxes/nb" &&
	sed -n "s/^+\([^+]\)/\1/p" "$FC_SRCDIR/patches/0001-gateway-enable-docker-bind-mounts.patch" \
		>"$FAKE_OPENSHELL_STATE/gateway.toml" &&
	mk_sandbox nb && os sandbox delete nb
'

test_expect_success 'mount targets that replace /sandbox and unknown fields are refused' '
	enable_bind &&
	os_fails 1 "must not replace" sandbox create --name t1 --driver-config-json \
		"{\"docker\":{\"mounts\":[{\"type\":\"bind\",\"source\":\"$WORK\",\"target\":\"/sandbox\"}]}}" &&
	os_fails 1 "invalid mount" sandbox create --name t2 --driver-config-json \
		"{\"docker\":{\"mounts\":[{\"type\":\"bind\",\"source\":\"$WORK\",\"target\":\"/x\",\"propagation\":\"shared\"}]}}"
'

test_expect_success 'sandbox get -o json prints the documented object' '
	enable_bind && mk_sandbox s1 &&
	os sandbox get s1 -o json >get.json &&
	python3 - get.json <<-\EOF
	import json, sys
	o = json.load(open(sys.argv[1]))
	want = {"id", "name", "workspace", "labels", "annotations", "resource_version",
	        "created_at", "phase", "current_policy_version", "policy_source", "revision",
	        "policy"}
	assert set(o) == want, sorted(set(o) ^ want)
	assert o["phase"] == "Ready" and o["name"] == "s1", o
	assert o["labels"] == {"forkcell.run": "s1"}, o["labels"]
	EOF
'

test_expect_success 'exec runs argv in the bind source and exits with its status' '
	rc=0 && os sandbox exec -n s1 --no-tty --workdir /sandbox/work -- \
		sh -c "pwd > where; echo out; echo err >&2; exit 7" >out 2>err </dev/null || rc=$? &&
	test_cmp_int 7 $rc &&
	test_cmp_str "$WORK" "$(cat "$WORK/where")" &&
	test_cmp_str out "$(cat out)" && test_cmp_str err "$(cat err)"
'

test_expect_success 'exec --env sets the variable; the caller environment does not leak' '
	FC_CANARY=leak os sandbox exec -n s1 --no-tty --env A=1 -- sh -c "echo \$A-\${FC_CANARY:-none}" \
		>out </dev/null &&
	test_cmp_str "1-none" "$(cat out)"
'

test_expect_success 'exec --timeout kills the command and exits 124' '
	start=$(date +%s) &&
	rc=0 && os sandbox exec -n s1 --no-tty --timeout 1 -- sleep 30 </dev/null || rc=$? &&
	test_cmp_int 124 $rc &&
	test $(( $(date +%s) - start )) -lt 20
'

test_expect_success 'the /sandbox/.fc sentinel directory is per sandbox and readable back' '
	os sandbox exec -n s1 --no-tty -- sh -c "mkdir -p /sandbox/.fc && echo 4 > /sandbox/.fc/exit-x" \
		</dev/null &&
	os sandbox exec -n s1 --no-tty -- cat /sandbox/.fc/exit-x >out </dev/null &&
	test_cmp_str 4 "$(cat out)" &&
	test_path_is_file "$FAKE_OPENSHELL_STATE/sandboxes/s1/fc/exit-x"
'

test_expect_success 'no-exit-event: exec exits 0 whatever the command did, sentinel lost' '
	FAKE_OPENSHELL_MODE=no-exit-event os sandbox exec -n s1 --no-tty -- \
		sh -c "(exit 5); s=\$?; mkdir -p /sandbox/.fc; echo \$s > /sandbox/.fc/exit-lost; exit \$s" \
		</dev/null &&
	test_must_fail os sandbox exec -n s1 --no-tty -- cat /sandbox/.fc/exit-lost </dev/null
'

test_expect_success 'transport-error: exit 1 and "error: transport error", nothing runs' '
	FAKE_OPENSHELL_MODE=transport-error os_fails 1 "^error: transport error" \
		sandbox exec -n s1 --no-tty -- touch /sandbox/work/ran &&
	test_path_is_missing "$WORK/ran"
'

test_expect_success 'FAKE_OPENSHELL_MODE_ONLY scopes a mode to the Nth exec' '
	mk_sandbox s2 &&
	FAKE_OPENSHELL_MODE=transport-error FAKE_OPENSHELL_MODE_ONLY=2 \
		os sandbox exec -n s2 --no-tty -- true </dev/null &&
	FAKE_OPENSHELL_MODE=transport-error FAKE_OPENSHELL_MODE_ONLY=2 \
		os_fails 1 "transport error" sandbox exec -n s2 --no-tty -- true &&
	os sandbox delete s2
'

test_expect_success 'attached create: main process status only in the error text, phase Error' '
	os_fails 1 "ssh exited with status exit status: 4" \
		sandbox create --name att -- sh -c "exit 4" &&
	os sandbox get att -o json >g.json &&
	python3 -c "import json,sys; assert json.load(open(\"g.json\"))[\"phase\"] == \"Error\"" &&
	os_fails 1 "not ready" sandbox exec -n att --no-tty -- true &&
	os sandbox delete att
'

test_expect_success 'a detached create whose main process exits still ends in Error' '
	os sandbox create --name det --detach -- true </dev/null &&
	os sandbox get det -o json >g.json &&
	python3 -c "import json; assert json.load(open(\"g.json\"))[\"phase\"] == \"Error\"" &&
	os sandbox delete det
'

test_expect_success 'attached-create mode fails even a sleep infinity create' '
	FAKE_OPENSHELL_MODE=attached-create os_fails 1 "ssh exited with status exit status: 0" \
		sandbox create --name am --detach -- sleep infinity &&
	os sandbox delete am
'

test_expect_success 'OCSF JSONL only once ocsf_json_enabled is set; cat returns it' '
	d=$(date -u +%F) &&
	test_must_fail os sandbox exec -n s1 --no-tty -- cat /var/log/openshell-ocsf.$d.log </dev/null &&
	os settings set --global --key ocsf_json_enabled --value true --yes &&
	os sandbox exec -n s1 --no-tty -- echo "exit status: 0 [OCSF ] ALLOWED" </dev/null &&
	os sandbox exec -n s1 --no-tty -- cat /var/log/openshell-ocsf.$d.log >ev.jsonl </dev/null &&
	python3 - ev.jsonl <<-\EOF
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	assert len(recs) >= 3, recs
	assert all("class_uid" in r and "type_uid" in r for r in recs)
	# Printed text never becomes a network decision.
	assert not [r for r in recs if r["class_uid"] in (4001, 4002) or "action" in r]
	EOF
'

test_expect_success 'logs prints shorthand OCSF lines' '
	os logs s1 -n 5 --source all >logs.txt &&
	test_grep -E "^\[[0-9]+\.[0-9]{3}\] \[sandbox\] \[OCSF \] \[ocsf\] PROC:" logs.txt &&
	test $(wc -l <logs.txt) -le 5
'

test_expect_success 'policy set --wait exits 0 loaded, 1 failed, 124 timed out' '
	echo "version: 1" >p.yaml &&
	os policy set s1 --policy p.yaml --wait &&
	rc=0 && FAKE_OPENSHELL_POLICY_RESULT=failed os policy set s1 --policy p.yaml --wait || rc=$? &&
	test_cmp_int 1 $rc &&
	rc=0 && FAKE_OPENSHELL_POLICY_RESULT=timeout os policy set s1 --policy p.yaml --wait || rc=$? &&
	test_cmp_int 124 $rc &&
	os policy get s1 -o json >pg.json &&
	python3 -c "import json; o = json.load(open(\"pg.json\")); assert o[\"active_version\"] == 2 and o[\"version\"] == 4 and o[\"status\"] == \"pending\", o"
'

test_expect_success 'list --selector, delete, then not found (exit 1)' '
	os sandbox list --selector forkcell.run=s1 --names >names &&
	test_cmp_str s1 "$(cat names)" &&
	os sandbox delete s1 &&
	test_path_is_missing "$FAKE_OPENSHELL_STATE/sandboxes/s1" &&
	os_fails 1 "not found" sandbox get s1 -o json
'

test_expect_success 'a gateway endpoint without http(s):// is refused' '
	OPENSHELL_GATEWAY_ENDPOINT=127.0.0.1:17670 os_fails 1 "invalid gateway endpoint" sandbox list &&
	OPENSHELL_GATEWAY_ENDPOINT=http://127.0.0.1:17670 os sandbox list >/dev/null
'

test_expect_success 'every call is recorded in calls.log' '
	n=$(wc -l <"$FAKE_OPENSHELL_STATE/calls.log") &&
	test "$n" -gt 30 &&
	test_grep -F -- "sandbox create --name a -o json -- true" "$FAKE_OPENSHELL_STATE/calls.log"
'

test_done
