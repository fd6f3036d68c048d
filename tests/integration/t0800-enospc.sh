#!/bin/bash
# A full disk: with the store on a small file system, writes get ENOSPC (not
# EIO, not a dead daemon), the mount keeps working, space comes back when
# files are removed, fsync'ed data stays, and fsck is clean.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse

test_expect_success 'setup: the store on a 64 MiB file system, a mounted cell' '
	mkdir small &&
	mount -t tmpfs -o size=64m tmpfs small &&
	echo "$TEST_TMP/small/store" >store.path &&
	fc_fill_tree base &&
	"$FC_CTL" --store "$(cat store.path)" init full --from base
'
STORE=$TEST_TMP/small/store

test_expect_success 'mount it' '
	fc_mount full mnt &&
	echo keep >mnt/keep && sync mnt/keep &&
	ctl checkpoint full --name before-fill
'

test_expect_success 'a big write fails with ENOSPC and the mount stays alive' '
	rc=0 &&
	dd if=/dev/zero of=mnt/big bs=1M count=200 conv=fsync 2>dd.err || rc=$? &&
	cat dd.err &&
	test "$rc" != 0 &&
	test_grep "No space left on device" dd.err &&
	ls mnt >/dev/null &&
	test_cmp_str keep "$(cat mnt/keep)"
'

test_expect_success 'removing the file gives the space back' '
	rm -f mnt/big &&
	sync -f mnt &&
	dd if=/dev/zero of=mnt/again bs=1M count=16 conv=fsync status=none &&
	rm mnt/again
'

test_expect_success 'many small files until ENOSPC: the error is ENOSPC' '
	python3 - mnt/many <<-\PY
	import errno, os, sys
	d = sys.argv[1]
	os.mkdir(d)
	n = 0
	try:
	    while n < 2000000:
	        with open(os.path.join(d, "f%07d" % n), "wb") as f:
	            f.write(b"x" * 4096)
	            f.flush()
	            os.fsync(f.fileno())
	        n += 1
	except OSError as e:
	    print("stopped after %d files: %s" % (n, e))
	    sys.exit(0 if e.errno == errno.ENOSPC else 1)
	print("never ran out of space")
	sys.exit(1)
	PY
'

test_expect_success 'while full: reads work, checkpoint succeeds or fails cleanly' '
	test_cmp_str keep "$(cat mnt/keep)" &&
	rc=0 && ctl checkpoint full --name when-full 2>ck.err || rc=$? &&
	cat ck.err &&
	test "$rc" -lt 2
'

# A checkpoint taken while full keeps mnt/many alive (that is what a
# checkpoint is for): restoring an earlier one, dropping it and collecting
# garbage gives the space back.
test_expect_success 'after cleanup: writes work again, checkpoint, fsck clean' '
	rm -rf mnt/many &&
	if ctl checkpoints full | grep -q when-full; then
		ctl restore full before-fill &&
		ctl checkpoint-delete full when-full &&
		ctl gc full
	fi &&
	sync -f mnt &&
	echo after >mnt/after &&
	ctl checkpoint full --name after-cleanup &&
	fc_umount full mnt &&
	ctl fsck &&
	fc_mount full mnt &&
	test_cmp_str keep "$(cat mnt/keep)" &&
	test_cmp_str after "$(cat mnt/after)" &&
	fc_umount full mnt
'

test_done
