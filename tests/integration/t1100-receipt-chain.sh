#!/bin/bash
# The receipt chain: every receipt and decision is canonical JSON signed
# with the store's Ed25519 key and linked to the previous record by SHA-256.
# `receipt verify` catches a changed byte in any record, a record deleted
# from the middle of the chain, two records swapped, a forged signature and
# a truncated chain; a receipt verifies with nothing but OpenSSL's CLI.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
fc_require_cmd bwrap python3 openssl sha256sum

R="$STORE/receipts"

# records in chain order, one id per line.
chain_ids() {
	python3 - "$R" <<'PY'
import json, os, sys
d = sys.argv[1]
recs = []
for f in os.listdir(d):
    if f.endswith(".json"):
        r = json.load(open(os.path.join(d, f)))
        recs.append((r["seq"], r["id"]))
for _, i in sorted(recs):
    print(i)
PY
}

backup() { rm -rf "$TEST_TMP/saved" && cp -a "$R" "$TEST_TMP/saved"; }
put_back() { rm -rf "$R" && cp -a "$TEST_TMP/saved" "$R"; }

test_expect_success 'make a chain of receipts and decisions' '
	mkdir -p "$TEST_TMP/src" && echo base >"$TEST_TMP/src/f" &&
	fc_init c1 "$TEST_TMP/src" &&
	ctl run c1 --restore-on-fail -- sh -c "echo a >f; exit 1" &&
	ctl run c1 --accept-on-success -- sh -c "echo b >g" &&
	ctl run c1 -- sh -c "echo c >h" &&
	ctl run c1 --restore-on-fail -- sh -c "exit 4" &&
	chain_ids >"$TEST_TMP/ids" &&
	test_cmp_int 7 "$(wc -l <"$TEST_TMP/ids")" &&
	ctl receipt verify &&
	backup
'

test_expect_success 'a receipt verifies with only openssl and sha256sum' '
	first=$(sed -n 1p "$TEST_TMP/ids") && second=$(sed -n 2p "$TEST_TMP/ids") &&
	openssl pkeyutl -verify -pubin -inkey "$STORE/keys/receipt-ed25519.pub.pem" -rawin \
		-in "$R/$second.json" -sigfile "$R/$second.sig" &&
	prev=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"prev_receipt\"])" "$R/$second.json") &&
	test_cmp_str "$prev" "$(sha256sum "$R/$first.json" | cut -d" " -f1)"
'

test_expect_success 'changing any byte of any record is caught' '
	n=0 &&
	while read -r id; do
		for off in 0 17 100; do
			put_back &&
			python3 - "$R/$id.json" "$off" <<-PY &&
			import sys
			p, off = sys.argv[1], int(sys.argv[2])
			b = bytearray(open(p, "rb").read())
			off = min(off, len(b) - 1)
			b[off] ^= 0x01
			open(p, "wb").write(b)
			PY
			ctl_err "receipt|chain|HEAD|malformed|signature" receipt verify
			n=$((n + 1))
		done
	done <"$TEST_TMP/ids" &&
	test_cmp_int 21 "$n" &&
	put_back && ctl receipt verify
'

test_expect_success 'a changed signature is caught' '
	put_back &&
	id=$(sed -n 3p "$TEST_TMP/ids") &&
	python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,\"rb\").read()); b[5]^=0x80; open(p,\"wb\").write(b)" "$R/$id.sig" &&
	ctl_err "bad signature" receipt verify
'

test_expect_success 'deleting a record from the middle is caught' '
	put_back &&
	id=$(sed -n 4p "$TEST_TMP/ids") &&
	rm "$R/$id.json" "$R/$id.sig" &&
	ctl_err "chain broken|missing" receipt verify
'

test_expect_success 'deleting the newest record is caught' '
	put_back &&
	id=$(sed -n 7p "$TEST_TMP/ids") &&
	rm "$R/$id.json" "$R/$id.sig" &&
	ctl_err "HEAD" receipt verify
'

test_expect_success 'swapping two records is caught' '
	put_back &&
	a=$(sed -n 2p "$TEST_TMP/ids") && b=$(sed -n 5p "$TEST_TMP/ids") &&
	for ext in json sig; do
		mv "$R/$a.$ext" "$TEST_TMP/tmp.$ext" &&
		mv "$R/$b.$ext" "$R/$a.$ext" &&
		mv "$TEST_TMP/tmp.$ext" "$R/$b.$ext"
	done &&
	ctl_err "malformed|does not match|chain broken" receipt verify
'

test_expect_success 'a record re-signed with another key is caught' '
	put_back &&
	id=$(sed -n 2p "$TEST_TMP/ids") &&
	openssl genpkey -algorithm ED25519 -out "$TEST_TMP/evil.pem" &&
	openssl pkeyutl -sign -inkey "$TEST_TMP/evil.pem" -rawin -in "$R/$id.json" -out "$R/$id.sig" &&
	ctl_err "bad signature" receipt verify
'

test_expect_success 'a crash between a record and HEAD is rolled forward by the next append' '
	put_back &&
	last=$(sed -n 7p "$TEST_TMP/ids") && prev=$(sed -n 6p "$TEST_TMP/ids") &&
	sha=$(sha256sum "$R/$prev.json" | cut -d" " -f1) &&
	printf "{\"id\":\"%s\",\"seq\":6,\"sha256\":\"%s\"}\n" "$prev" "$sha" >"$R/HEAD" &&
	printf "%s" "$last" >"$R/PENDING" &&
	ctl_err "HEAD" receipt verify &&
	ctl run c1 -- true &&
	test_path_is_missing "$R/PENDING" &&
	ctl receipt verify >"$TEST_TMP/out" &&
	test_grep "8 records" "$TEST_TMP/out"
'

test_expect_success 'a crash before the record was complete leaves no debris' '
	put_back &&
	printf "rcpt_1_deadbeef" >"$R/PENDING" &&
	printf "partial" >"$R/rcpt_1_deadbeef.sig" &&
	ctl run c1 -- true &&
	test_path_is_missing "$R/PENDING" &&
	test_path_is_missing "$R/rcpt_1_deadbeef.sig" &&
	ctl receipt verify >"$TEST_TMP/out" &&
	test_grep "8 records" "$TEST_TMP/out"
'

test_expect_success 'the intact chain still verifies and new runs extend it' '
	put_back &&
	ctl receipt verify &&
	ctl run c1 -- true &&
	ctl receipt verify >"$TEST_TMP/out" &&
	test_grep "8 records" "$TEST_TMP/out" &&
	ctl umount c1
'

test_done
