#!/bin/bash
# forkcellctl policy check / diff, and run --policy: valid files print their
# canonical form and revision, every refused file in tests/data/policy gives
# exactly the message its "# expect:" line names, two spellings of one
# policy share a revision, diff reports what each side allows, and run
# --policy refuses an invalid policy before anything starts (no receipt)
# while a valid one binds the canonical SHA-256 and revision to the receipt.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_cmd python3 sha256sum

# shellcheck disable=SC2034 # used inside the eval'd test bodies
DATA=$FC_SRCDIR/tests/data/policy

json_get() {
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}

test_expect_success 'policy check prints the canonical form and its revision' '
	cd "$DATA" &&
	ctl policy check 0001-valid-full.yaml >"$TEST_TMP/c1.out" &&
	test_cmp_int 3 "$(wc -l <"$TEST_TMP/c1.out")" &&
	head -n 1 "$TEST_TMP/c1.out" | tr -d "\n" | sha256sum | cut -d" " -f1 >"$TEST_TMP/sum" &&
	sed -n "3s/^sha256: //p" "$TEST_TMP/c1.out" >"$TEST_TMP/sum.printed" &&
	test_cmp "$TEST_TMP/sum" "$TEST_TMP/sum.printed" &&
	test_cmp_str "revision: policy_$(cut -c1-12 "$TEST_TMP/sum")" \
		"$(sed -n 2p "$TEST_TMP/c1.out")" &&
	head -n 1 "$TEST_TMP/c1.out" >"$TEST_TMP/canon.json" &&
	python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$TEST_TMP/canon.json"
'

test_expect_success 'the canonical form is itself a policy with the same revision' '
	ctl policy check "$TEST_TMP/canon.json" >"$TEST_TMP/c2.out" &&
	test_cmp "$TEST_TMP/c1.out" "$TEST_TMP/c2.out"
'

test_expect_success 'two spellings of one policy have the same revision' '
	cd "$DATA" &&
	ctl policy check 0003-valid-block.yaml | tail -n 2 >"$TEST_TMP/r3" &&
	ctl policy check 0004-valid-flow.yaml | tail -n 2 >"$TEST_TMP/r4" &&
	test_cmp "$TEST_TMP/r3" "$TEST_TMP/r4"
'

test_expect_success 'policy check --format json' '
	cd "$DATA" &&
	ctl policy check --format json 0005-valid-options.yaml >"$TEST_TMP/c5.json" &&
	test_cmp_str canonical_json "$(json_get "$TEST_TMP/c5.json" "r[\"hash_of\"]")" &&
	test_cmp_str audit "$(json_get "$TEST_TMP/c5.json" \
		"r[\"policy\"][\"network_policies\"][\"internal\"][\"endpoints\"][0][\"enforcement\"]")"
'

test_expect_success 'every refused data file gives its exact message, exit 1' '
	cd "$DATA" &&
	n=0 &&
	for f in 01*.yaml; do
		want="forkcellctl: error: $f:$(sed -n "1s/^# expect: //p" "$f")" &&
		rc=0 && ctl policy check "$f" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$? &&
		test_cmp_int 1 "$rc" &&
		test_cmp_str "$want" "$(cat "$TEST_TMP/err")" &&
		test_cmp_int 0 "$(wc -c <"$TEST_TMP/out")" &&
		n=$((n + 1)) || { echo "in $f" >&2; exit 1; }
	done &&
	test "$n" -ge 40
'

test_expect_success 'named refusals: unknown key, websocket, bad glob, .., duplicate, bare *' '
	cd "$DATA" &&
	ctl_err "0100-unknown-top-key.yaml:3:1: unknown key .network_policy." \
		policy check 0100-unknown-top-key.yaml &&
	ctl_err "protocol: unsupported protocol .websocket." policy check 0115-websocket.yaml &&
	ctl_err "bad path glob ./api\*\*.: .\*\*. must be a whole path segment" \
		policy check 0104-bad-glob-star.yaml &&
	ctl_err "contains a .\.\.. segment" policy check 0107-dotdot-path.yaml &&
	ctl_err "duplicate key .a. \(first at line 4\)" policy check 0108-duplicate-key.yaml &&
	ctl_err "duplicate policy name .web." policy check 0109-duplicate-name.yaml &&
	ctl_err "bad host .\*.: a bare wildcard" policy check 0110-bare-star-host.yaml
'

test_expect_success 'unreadable, oversized and missing files fail cleanly' '
	ctl_err "cannot read policy .$TEST_TMP/none.yaml.: No such file" \
		policy check "$TEST_TMP/none.yaml" &&
	head -c 1048577 /dev/zero | tr "\0" "#" >"$TEST_TMP/big.yaml" &&
	ctl_err "big.yaml: policy file larger than 1048576 bytes" policy check "$TEST_TMP/big.yaml" &&
	ctl_err "not a regular file" policy check "$TEST_TMP"
'

test_expect_code 2 'policy without a subcommand is a usage error' 'ctl policy 2>/dev/null'
test_expect_code 2 'policy check without a file is a usage error' 'ctl policy check 2>/dev/null'
test_expect_code 2 'policy diff with one file is a usage error' \
	'ctl policy diff "$DATA/0002-valid-minimal.yaml" 2>/dev/null'

test_expect_success 'policy diff: what each side allows, and settings that changed' '
	cat >"$TEST_TMP/a.yaml" <<-\EOF &&
	version: 1
	filesystem_policy: {read_only: [/usr], read_write: [/data]}
	network_policies:
	  web:
	    endpoints: [{host: api.test, port: 443, protocol: rest, access: read-only}]
	    binaries: [{path: /usr/bin/curl}]
	EOF
	cat >"$TEST_TMP/b.yaml" <<-\EOF &&
	version: 1
	landlock: {compatibility: hard_requirement}
	filesystem_policy: {read_only: [/usr]}
	network_policies:
	  web:
	    endpoints:
	      - host: api.test
	        port: 443
	        protocol: rest
	        access: read-write
	        deny_rules: [{method: "*", path: /admin/**}]
	    binaries: [{path: /usr/bin/curl}]
	EOF
	ctl policy diff "$TEST_TMP/a.yaml" "$TEST_TMP/b.yaml" >"$TEST_TMP/d.out" &&
	test_grep -F "allowed by B, not by A:" "$TEST_TMP/d.out" &&
	test_grep -F "  + network /usr/bin/curl -> api.test:443 POST ** except * /admin/**" \
		"$TEST_TMP/d.out" &&
	test_grep -F "allowed by A, not by B:" "$TEST_TMP/d.out" &&
	test_grep -F "  - filesystem read-write /data" "$TEST_TMP/d.out" &&
	test_grep -F "  - network /usr/bin/curl -> api.test:443 GET **" "$TEST_TMP/d.out" &&
	test_grep -F "  ~ landlock.compatibility: best_effort -> hard_requirement" "$TEST_TMP/d.out" &&
	ctl policy diff --format json "$TEST_TMP/a.yaml" "$TEST_TMP/b.yaml" >"$TEST_TMP/d.json" &&
	test_cmp_str 6 "$(json_get "$TEST_TMP/d.json" "len(r[\"only_b\"])")" &&
	test_cmp_str False "$(json_get "$TEST_TMP/d.json" "r[\"identical\"]")"
'

test_expect_success 'policy diff of two spellings: identical' '
	ctl policy diff "$DATA/0003-valid-block.yaml" "$DATA/0004-valid-flow.yaml" >"$TEST_TMP/same" &&
	test_grep -F "same revision: the policies are identical" "$TEST_TMP/same"
'

if ! command -v bwrap >/dev/null || [ ! -e /dev/fuse ] || [ "$(id -u)" != 0 ]; then
	test_skip 'run --policy' 'needs root, /dev/fuse and bwrap'
	test_done
fi

test_expect_success 'set up a cell' '
	fc_fill_tree "$TEST_TMP/src" &&
	fc_init c1 "$TEST_TMP/src" &&
	ctl mount c1 "$TEST_TMP/mnt" --allow-other
'

test_expect_success 'run --policy with an invalid policy fails before anything starts' '
	ls "$STORE/receipts" 2>/dev/null | sort >"$TEST_TMP/rc.before" &&
	rc=0 && ctl run c1 --policy "$DATA/0115-websocket.yaml" -- touch ran \
		2>"$TEST_TMP/run.err" || rc=$? &&
	test_cmp_int 1 "$rc" &&
	test_grep -F "0115-websocket.yaml:5:53: network_policies.a.endpoints[0].protocol: unsupported protocol" \
		"$TEST_TMP/run.err" &&
	test_path_is_missing "$TEST_TMP/mnt/ran" &&
	ls "$STORE/receipts" 2>/dev/null | sort >"$TEST_TMP/rc.after" &&
	test_cmp "$TEST_TMP/rc.before" "$TEST_TMP/rc.after" &&
	rc=0 && ctl run c1 --exit-with-command --policy "$DATA/0100-unknown-top-key.yaml" -- true \
		2>/dev/null || rc=$? &&
	test "$rc" -ne 0
'

test_expect_success 'run --policy binds the canonical SHA-256 and revision' '
	ctl policy check "$DATA/0003-valid-block.yaml" >"$TEST_TMP/p3" &&
	ctl run c1 --policy "$DATA/0003-valid-block.yaml" -- true &&
	ctl receipt show --format json >"$TEST_TMP/r1.json" &&
	test_cmp_str "$(sed -n "3s/^sha256: //p" "$TEST_TMP/p3")" \
		"$(json_get "$TEST_TMP/r1.json" "r[\"policy\"][\"sha256\"]")" &&
	test_cmp_str "$(sed -n "2s/^revision: //p" "$TEST_TMP/p3")" \
		"$(json_get "$TEST_TMP/r1.json" "r[\"policy\"][\"revision\"]")" &&
	test_cmp_str canonical_json "$(json_get "$TEST_TMP/r1.json" "r[\"policy\"][\"hash_of\"]")" &&
	test_cmp_str True "$(json_get "$TEST_TMP/r1.json" "r[\"policy\"][\"enforced\"]")" &&
	test_cmp_str "$(sha256sum <"$DATA/0003-valid-block.yaml" | cut -d" " -f1)" \
		"$(json_get "$TEST_TMP/r1.json" "r[\"policy\"][\"file_sha256\"]")"
'

test_expect_success 'the other spelling gives the same revision in its receipt' '
	ctl run c1 --policy "$DATA/0004-valid-flow.yaml" -- true &&
	ctl receipt show --format json >"$TEST_TMP/r2.json" &&
	test_cmp_str "$(json_get "$TEST_TMP/r1.json" "r[\"policy\"][\"revision\"]")" \
		"$(json_get "$TEST_TMP/r2.json" "r[\"policy\"][\"revision\"]")" &&
	test "$(json_get "$TEST_TMP/r1.json" "r[\"policy\"][\"file_sha256\"]")" != \
		"$(json_get "$TEST_TMP/r2.json" "r[\"policy\"][\"file_sha256\"]")"
'

test_expect_success 'clean up' '
	ctl umount c1
'

test_done
