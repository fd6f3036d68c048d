#!/bin/bash
# Bad input and faults get a clear error and a non-zero exit, never a crash,
# and never change the store: invalid names, missing sources, busy or
# already-used mount points, unknown cells and checkpoints, a locked cell, a
# corrupted or foreign store, deleting a mounted cell.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse

LONG=$(printf 'n%.0s' $(seq 65))
CTRL=$(printf 'bad\001name')
TAB=$(printf 'tab\tname')

test_expect_success 'setup: a store with cell c1 and checkpoint k1' '
	fc_fill_tree src &&
	fc_init c1 src &&
	ctl checkpoint c1 --name k1 &&
	cp -a "$STORE" "$TEST_TMP/pristine"
'

test_expect_success 'a 64-byte cell name is accepted' '
	ctl init "$(printf "n%.0s" $(seq 64))" --from src
'

# store_snapshot NAME: what list and checkpoints show, to compare later.
store_snapshot() {
	ctl list >"$TEST_TMP/list.$1" 2>&1 &&
	ctl checkpoints c1 >>"$TEST_TMP/list.$1" 2>&1
}
store_snapshot before

for bad in "a/b" "/abs" ".." "." ".hidden" "$CTRL" "$TAB" "$LONG" "" "12345" "with space" \
	"back\\slash"; do
	shown=$(printf '%q' "$bad")
	test_expect_success "init rejects the cell name $shown" '
		ctl_err "invalid cell name" init "$bad" --from src
	'
done

for bad in "a/b" ".." "$CTRL" "$LONG" "" "777"; do
	shown=$(printf '%q' "$bad")
	test_expect_success "checkpoint rejects the name $shown" '
		ctl_err "invalid checkpoint name" checkpoint c1 --name "$bad"
	'
done

test_expect_success 'other commands reject invalid cell names too' '
	ctl_err "invalid cell name" status "a/b" &&
	ctl_err "invalid cell name" mount "../x" mnt &&
	ctl_err "invalid cell name" checkpoint "$CTRL" &&
	ctl_err "invalid cell name" restore "$LONG" &&
	ctl_err "invalid (new )?cell name" fork c1 "x/y" &&
	ctl_err "invalid cell name" delete ".." &&
	ctl_err "invalid cell name" diff "a/b"
'

test_expect_success 'init from a missing source' '
	ctl_err "does not exist" init c2 --from "$TEST_TMP/nonexistent"
'

test_expect_success 'init from a file instead of a directory' '
	ctl_err "not a directory" init c2 --from src/hello.txt
'

test_expect_success 'init without --from is a usage error' '
	rc=0 && ctl init c2 2>err || rc=$? &&
	test_cmp_int 2 $rc && test_grep -- "--from" err
'

test_expect_success 'init of an existing cell' '
	ctl_err "already exists" init c1 --from src
'

test_expect_success 'duplicate checkpoint name' '
	ctl_err "already has a checkpoint" checkpoint c1 --name k1
'

test_expect_success 'unknown cell' '
	ctl_err "cell .nosuch. does not exist" status nosuch &&
	ctl_err "cell .nosuch. does not exist" checkpoint nosuch &&
	ctl_err "cell .nosuch. does not exist" restore nosuch &&
	ctl_err "cell .nosuch. does not exist" delete nosuch &&
	ctl_err "cell .nosuch. does not exist" mount nosuch mnt &&
	ctl_err "cell .nosuch. does not exist" checkpoints nosuch
'

test_expect_success 'unknown checkpoint' '
	ctl_err "checkpoint .nosuch. .*does not exist" restore c1 nosuch &&
	ctl_err "checkpoint .nosuch. .*does not exist" fork c1 c3 --from nosuch &&
	ctl_err "checkpoint .nosuch. .*does not exist" diff c1 nosuch &&
	ctl_err "checkpoint .nosuch. .*does not exist" export c1 "$TEST_TMP/exp" --from nosuch &&
	ctl_err "checkpoint .nosuch. .*does not exist" restore-path c1 nosuch hello.txt &&
	ctl_err "checkpoint .nosuch. .*does not exist" mount c1 mnt --checkpoint nosuch &&
	ctl_err "cell .c3. does not exist" status c3
'

test_expect_success 'fork onto an existing cell name' '
	ctl_err "already exists" fork c1 c1
'

test_expect_success 'export into a non-empty directory' '
	mkdir -p full && echo x >full/x &&
	ctl_err "not empty" export c1 full &&
	test_cmp_str x "$(cat full/x)"
'

test_expect_success 'restore-path refuses paths that leave the cell' '
	ctl_err "invalid|outside|\\.\\." restore-path c1 k1 ../etc/passwd &&
	ctl_err "invalid|outside|absolute" restore-path c1 k1 /etc/passwd
'

test_expect_success 'a cell locked by another process' '
	python3 -c "import fcntl, sys, time
f = open(sys.argv[1], \"a\")
fcntl.flock(f, fcntl.LOCK_EX)
time.sleep(60)" "$STORE/run/c1.lock" &
	lockpid=$! &&
	test_when_finished "kill $lockpid" &&
	for i in $(seq 100); do
		flock -n "$STORE/run/c1.lock" true || break
		sleep 0.1
	done &&
	ctl_err "locked" checkpoint c1 &&
	ctl_err "locked" restore c1 k1 &&
	ctl_err "locked|mounted" delete c1
'

test_expect_success 'mount point that does not exist or is a file' '
	ctl_err "does not exist|no such" mount c1 "$TEST_TMP/no/such/dir" &&
	ctl_err "not a directory" mount c1 src/hello.txt
'

test_expect_success 'busy mount point: something is already mounted there' '
	mkdir -p busy && mount -t tmpfs none busy &&
	test_when_finished "umount busy" &&
	ctl_err "busy|already a mount point|mounted" mount c1 busy &&
	test "$(fc_mount_fstype busy)" = tmpfs
'

test_expect_success 'cell already mounted; delete of a mounted cell' '
	fc_mount c1 mnt &&
	test_when_finished "fc_umount c1 mnt" &&
	ctl_err "already mounted" mount c1 mnt2 &&
	! fc_is_mounted mnt2 &&
	ctl_err "mounted" delete c1 &&
	ctl status c1 >/dev/null
'

test_expect_success 'umount of a cell that is not mounted' '
	ctl_err "not mounted" umount c1
'

test_expect_success 'the failed commands left the store unchanged' '
	store_snapshot after &&
	test_cmp "$TEST_TMP/list.before" "$TEST_TMP/list.after"
'

test_expect_success 'fsck is clean after all that' '
	ctl fsck
'

# A store directory that is not a ForkCell store.
test_expect_success 'a foreign directory is not taken for a store' '
	mkdir foreign && echo data >foreign/file &&
	rc=0 && "$FC_CTL" --store foreign list 2>err || rc=$? &&
	test_cmp_int 1 $rc &&
	test_grep -i "not a forkcell store" err &&
	test_must_fail "$FC_CTL" --store foreign init c --from src 2>err &&
	test_grep -i "not a forkcell store|not empty" -E err &&
	test_cmp_str "file" "$(ls foreign)"
'

test_expect_success 'a foreign LMDB database is refused' '
	mkdir -p lmdb/meta &&
	printf "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 666f6f\n 626172\nDATA=END\n" |
		mdb_load lmdb/meta &&
	rc=0 && "$FC_CTL" --store lmdb list 2>err || rc=$? &&
	test_cmp_int 1 $rc &&
	test_grep -i "not a forkcell store" err
'

# corrupt_copy NAME HOW: a copy of the pristine store with data.mdb damaged.
corrupt_copy() {
	rm -rf "$1" && cp -a "$TEST_TMP/pristine" "$1" &&
	python3 - "$1/meta/data.mdb" "$2" <<'PY'
import os, random, sys
path, how = sys.argv[1], sys.argv[2]
data = bytearray(open(path, "rb").read())
if how == "header":
    data[0:8192] = os.urandom(8192)
elif how == "truncated":
    data = data[:100]
elif how.startswith("pages"):
    rnd = random.Random(int(how[5:]))
    for i in range(8192, len(data)):
        data[i] = rnd.randrange(256)
elif how.startswith("flip"):
    rnd = random.Random(int(how[4:]))
    for _ in range(64):
        i = rnd.randrange(8192, len(data))
        data[i] ^= 1 << rnd.randrange(8)
open(path, "wb").write(data)
PY
}

for how in header truncated pages1 pages2 pages3 flip1 flip2 flip3; do
	test_expect_success "corrupted store ($how): clean errors, no crash" '
		corrupt_copy "bad-$how" "$how" &&
		for cmd in list "status c1" "checkpoints c1" "checkpoint c1" fsck; do
			rc=0 &&
			timeout 30 "$FC_CTL" --store "bad-$how" $cmd >out 2>err || rc=$? &&
			if [ $rc -ge 124 ]; then
				cat err; fc_fail "$cmd crashed or hung (exit $rc)"
			fi &&
			if [ $rc != 0 ] && ! test -s err; then
				fc_fail "$cmd failed (exit $rc) without a message"
			fi || exit 1
		done
	'
done

test_expect_success 'a damaged header is reported as such' '
	corrupt_copy bad-h2 header &&
	rc=0 && "$FC_CTL" --store bad-h2 list 2>err || rc=$? &&
	test_cmp_int 1 $rc &&
	test_grep -iE "not a valid LMDB|corrupt" err
'

test_expect_success 'forkcellfs refuses a corrupted store without mounting' '
	corrupt_copy bad-fs header &&
	mkdir -p mnt3 &&
	test_must_fail timeout 30 "$FC_FS" -o cell=c1 bad-fs mnt3 2>err &&
	test -s err &&
	! fc_is_mounted mnt3
'

test_done
