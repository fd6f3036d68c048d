#!/bin/bash
# Lazy base: init from a directory copies no data (the blob directory stays
# empty for a 10k-file tree), reads come from the base, metadata-only changes
# copy nothing, the first write copies one file up, and the base directory is
# never modified.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse

blobs() { find "$STORE/blobs" -type f | wc -l; }
blob_bytes() { find "$STORE/blobs" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

test_expect_success 'setup: a 10k-file base tree with hard links and a large file' '
	python3 - base <<-\PY &&
	import os, random, sys
	root = sys.argv[1]
	rnd = random.Random(6)
	for d in range(100):
	    dp = os.path.join(root, "d%02d" % d)
	    os.makedirs(dp)
	    for f in range(100):
	        with open(os.path.join(dp, "f%03d" % f), "wb") as fh:
	            fh.write(rnd.randbytes(rnd.randrange(1, 3000)))
	PY
	head -c 20000000 /dev/urandom >base/large &&
	echo linked >base/hl1 && ln base/hl1 base/hl2 &&
	ln -s d00/f000 base/sym &&
	setfattr -n user.base -v yes base/d00/f001 &&
	fc_treehash --owner --xattrs --mtime base >base.list &&
	test "$(find base -type f | wc -l)" -ge 10000
'

test_expect_success 'init copies no data' '
	ctl init lazy --from base >init.out &&
	test_cmp_int 0 "$(blobs)" &&
	store_kb=$(du -sk "$STORE" | cut -f1) &&
	base_kb=$(du -sk base | cut -f1) &&
	echo "store ${store_kb} KiB, base ${base_kb} KiB" &&
	test "$store_kb" -lt $((base_kb / 4))
'

test_expect_success 'the mount shows the base tree exactly, reads copy nothing' '
	fc_mount lazy mnt &&
	fc_treehash --owner --xattrs --mtime mnt >mnt.list &&
	test_cmp base.list mnt.list &&
	test_cmp_int 0 "$(blobs)"
'

test_expect_success 'hard links of the base are one inode in the mount' '
	test "$(stat -c %i mnt/hl1)" = "$(stat -c %i mnt/hl2)" &&
	test_cmp_int 2 "$(stat -c %h mnt/hl1)"
'

test_expect_success 'metadata-only changes copy no data' '
	chmod 600 mnt/d01/f001 &&
	chown 123:456 mnt/d01/f002 &&
	touch -d @1234567890 mnt/d01/f003 &&
	setfattr -n user.new -v 1 mnt/d01/f004 &&
	mv mnt/d01/f005 mnt/d02/moved &&
	mv mnt/large mnt/large-renamed &&
	ln mnt/d01/f006 mnt/d01/f006-link &&
	rm mnt/d01/f007 &&
	test_cmp_int 0 "$(blobs)"
'

test_expect_success 'the first write copies exactly one file up' '
	echo appended >>mnt/d03/f010 &&
	sync -f mnt &&
	test_cmp_int 1 "$(blobs)" &&
	test_cmp_int "$(($(stat -c %s base/d03/f010) + 9))" "$(blob_bytes)" &&
	cmp <(cat base/d03/f010; echo appended) mnt/d03/f010
'

test_expect_success 'a write into the middle of a large base file' '
	printf X | dd of=mnt/large-renamed bs=1 seek=10000000 conv=notrunc status=none &&
	sync -f mnt &&
	test_cmp_int 2 "$(blobs)" &&
	cmp -l base/large mnt/large-renamed >cmp.out || true &&
	test_cmp_int 1 "$(wc -l <cmp.out)"
'

test_expect_success 'writing through one hard link copies up once, both names see it' '
	echo more >>mnt/hl2 &&
	test_cmp_str "$(printf "linked\nmore")" "$(cat mnt/hl1)" &&
	test "$(stat -c %i mnt/hl1)" = "$(stat -c %i mnt/hl2)" &&
	sync -f mnt && test_cmp_int 3 "$(blobs)"
'

test_expect_success 'checkpoint, write again: the frozen copy stays, restore brings it back' '
	ctl checkpoint lazy --name c1 &&
	echo again >>mnt/d03/f010 &&
	sync -f mnt &&
	test_cmp_int 4 "$(blobs)" &&
	ctl restore lazy c1 &&
	cmp <(cat base/d03/f010; echo appended) mnt/d03/f010
'

test_expect_success 'O_TRUNC of a base file and a new file' '
	echo fresh >mnt/d04/f000 &&
	echo new >mnt/newfile &&
	test_cmp_str fresh "$(cat mnt/d04/f000)" &&
	test "$(cat base/d04/f000)" != fresh
'

test_expect_success 'the base directory was never modified' '
	fc_treehash --owner --xattrs --mtime base >base.after &&
	test_cmp base.list base.after &&
	test_path_is_missing base/newfile
'

test_expect_success 'unchanged files still read from the base after remount' '
	fc_umount lazy mnt &&
	fc_mount lazy mnt &&
	cmp base/d50/f050 mnt/d50/f050 &&
	cmp base/d00/f000 mnt/sym &&
	fc_umount lazy mnt &&
	ctl fsck
'

test_done
