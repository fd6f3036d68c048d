#!/bin/bash
# kill -9 of the daemon during a write storm, during checkpoints and during
# restores, over and over. After each kill: `forkcellctl umount` (or a plain
# `mount`) cleans up the stale mount point, the cell mounts again, `fsck` is
# clean, every file that was fsync'ed before the kill has its content, every
# checkpoint that was reported as taken exists, and a restore interrupted by
# the kill left the tree of one of the two checkpoints, never a mixture.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
fc_require_cmd python3

ITERATIONS=${FORKCELL_CRASH_ITERATIONS:-21}
[ "$FC_ASAN" = 1 ] && ITERATIONS=${FORKCELL_CRASH_ITERATIONS:-9}
# The daemons killed here cannot unmount; what they leave behind is expected.
FC_LOG_ALLOW='ENOTCONN|Transport endpoint|stale'

STORM=$FC_PYHELPERS/storm.py

# delay: a pseudo-random sleep of 0.2..1.4 s, seeded by the iteration.
delay() {
	sleep "$(awk -v i="$1" 'BEGIN { srand(i * 7919); printf "%.2f", 0.2 + rand() * 1.2 }')"
}

# verify_ledger DIR LEDGER: every "name sha256" line is a file with that content.
verify_ledger() {
	python3 - "$1" "$2" <<'PY'
import hashlib, os, sys
d, ledger = sys.argv[1], sys.argv[2]
bad = n = 0
for line in open(ledger):
    name, sha = line.split()
    n += 1
    try:
        got = hashlib.sha256(open(os.path.join(d, name), "rb").read()).hexdigest()
    except OSError as e:
        print("fsync'ed file %s lost: %s" % (name, e)); bad += 1; continue
    if got != sha:
        print("fsync'ed file %s has wrong content" % name); bad += 1
print("%d fsync'ed files checked" % n)
sys.exit(1 if bad else 0)
PY
}

# wait_ledger FILE: until the storm has fsync'ed its first file.
wait_ledger() {
	local n
	for n in $(seq 200); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	fc_fail "the write storm wrote nothing in 10 s"
}

# wait_exit PID WHAT: wait up to 30 s for a process of this test to exit.
wait_exit() {
	timeout 30 tail --pid="$1" -f /dev/null || {
		fc_fail "$2 (pid $1) did not exit within 30 s after the kill"
		return 1
	}
}

# ensure_mounted: a failed iteration must not take the next ones down.
ensure_mounted() {
	if ! stat mnt/hello.txt >/dev/null 2>&1 && ! stat mnt/rb >/dev/null 2>&1; then
		ctl umount cr >/dev/null 2>&1 || umount -l mnt 2>/dev/null || true
		fc_mount cr mnt
	fi
}

# recover I: clean up the killed daemon's mount (explicitly with umount, or
# implicitly by mount), mount again (the daemon recovers), then fsck.
recover() {
	if [ $(($1 % 2)) = 0 ]; then
		ctl umount cr >umount.out 2>&1 || { cat umount.out; fc_fail "umount failed"; return 1; }
		fc_wait_unmounted mnt 5 || return 1
	fi
	fc_mount cr mnt || { fc_fail "remount failed"; return 1; }
	ctl fsck >fsck.out 2>&1 || { cat fsck.out; fc_fail "fsck failed"; return 1; }
}

test_expect_success 'setup: a mounted cell with checkpoints ra and rb' '
	fc_fill_tree base &&
	fc_init cr base &&
	fc_mount cr mnt &&
	ctl checkpoint cr --name ra &&
	fc_treehash --owner --xattrs mnt >ra.list &&
	echo changed >mnt/hello.txt && rm -r mnt/sub && mkdir -p mnt/rb/x &&
	head -c 300000 /dev/urandom >mnt/rb/x/data &&
	ctl checkpoint cr --name rb &&
	fc_treehash --owner --xattrs mnt >rb.list
'

crash_storm() {
	local i=$1
	mkdir "mnt/storm$i" && sync -f mnt &&
	: >"ledger$i" &&
	{ python3 "$STORM" "mnt/storm$i" "$TEST_TMP/ledger$i" "$i" >/dev/null 2>&1 & } &&
	spid=$! &&
	wait_ledger "ledger$i" &&
	{ while :; do cat mnt/hello.txt >/dev/null 2>&1 &&
		echo "append $i" >>mnt/run.sh 2>/dev/null || break; done & } &&
	apid=$! &&
	delay "$i" &&
	fc_kill9 mnt &&
	wait_exit "$spid" "the write storm" &&
	wait_exit "$apid" "the append loop" &&
	recover "$i" &&
	verify_ledger "mnt/storm$i" "ledger$i"
}

crash_checkpoint() {
	local i=$1
	mkdir "mnt/storm$i" && sync -f mnt &&
	: >"ledger$i" && : >"ckpts$i" &&
	{ python3 "$STORM" "mnt/storm$i" "$TEST_TMP/ledger$i" "$i" >/dev/null 2>&1 & } &&
	spid=$! &&
	wait_ledger "ledger$i" &&
	{
		n=0
		while [ ! -e "stop$i" ]; do
			n=$((n + 1))
			if "$FC_CTL" --store "$STORE" checkpoint cr --name "c$i-$n" >/dev/null 2>&1
			then
				echo "c$i-$n" >>"ckpts$i"
			fi
		done &
	} &&
	cpid=$! &&
	delay "$i" &&
	fc_kill9 mnt &&
	touch "stop$i" &&
	wait_exit "$spid" "the write storm" &&
	wait_exit "$cpid" "the checkpoint loop" &&
	recover "$i" &&
	verify_ledger "mnt/storm$i" "ledger$i" &&
	ctl checkpoints cr >ckpts.out &&
	while read -r k; do
		test_grep -w -- "$k" ckpts.out || exit 1
	done <"ckpts$i" &&
	if [ -s "ckpts$i" ]; then
		last=$(tail -n 1 "ckpts$i") &&
		fc_mount cr "tt$i" --checkpoint "$last" &&
		find "tt$i" -type f -exec cat {} + >/dev/null &&
		fc_umount cr "tt$i" --checkpoint "$last"
	fi
}

crash_restore() {
	local i=$1
	ctl restore cr ra &&
	{
		n=0
		while [ ! -e "stop$i" ]; do
			n=$((n + 1))
			"$FC_CTL" --store "$STORE" restore cr "r$(printf "ab" | cut -c$((n % 2 + 1)))" \
				>/dev/null 2>&1 || true
		done &
	} &&
	rpid=$! &&
	delay "$i" &&
	fc_kill9 mnt &&
	touch "stop$i" &&
	wait_exit "$rpid" "the restore loop" &&
	recover "$i" &&
	fc_treehash --owner --xattrs mnt >now.list &&
	if ! cmp -s now.list ra.list && ! cmp -s now.list rb.list; then
		diff -u ra.list now.list; diff -u rb.list now.list
		fc_fail "after the crash the tree is neither ra nor rb"
	fi
}

for i in $(seq 1 "$ITERATIONS"); do
	case $((i % 3)) in
	1) kind=storm ;;
	2) kind=checkpoint ;;
	0) kind=restore ;;
	esac
	test_expect_success "crash $i: kill -9 during $kind, recover, fsck, verify" "
		ensure_mounted &&
		crash_$kind $i
	"
done

test_expect_success 'after all crashes: ra and rb restore exactly, fsck clean' '
	ctl restore cr ra &&
	fc_treehash --owner --xattrs mnt >now.list && test_cmp ra.list now.list &&
	ctl restore cr rb &&
	fc_treehash --owner --xattrs mnt >now.list && test_cmp rb.list now.list &&
	fc_umount cr mnt &&
	ctl fsck
'

test_done
