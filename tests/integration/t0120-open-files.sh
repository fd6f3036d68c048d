#!/bin/bash
# Files are opened and closed without the daemon (FUSE's "no open" mode):
# its cache of blob fds stays bounded however many files are read or
# written, an unlinked file stays readable through an open descriptor and
# its blob goes once the last one closes, and O_TRUNC still truncates.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse

NFILES=6000
FD_MAX=4096 # FS_FD_MAX in fs/fs_copyup.c

blobs() { find "$STORE/blobs" -type f | wc -l; }
daemon_fds() { find "/proc/$(fc_mnt_pid mnt)/fd" -mindepth 1 | wc -l; }

# make_files DIR N TAG: N small files in 60 directories, content from TAG.
make_files() {
	python3 - "$@" <<'EOF'
import os, sys
d, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    sub = os.path.join(d, "d%02d" % (i % 60))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%05d" % i), "w") as f:
        f.write("%s %d\n" % (tag, i))
EOF
}

# wait_blobs N: the store holds N blob files within 10 s (forgets are async).
wait_blobs() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(blobs)" = "$1" ] && return 0
		sleep 0.1
	done
	fc_fail "expected $1 blob files, found $(blobs)"
}

test_expect_success 'setup: a cell whose base has 6000 files, mounted' '
	make_files base $NFILES base &&
	fc_init many base &&
	fc_mount many mnt &&
	test "$(find mnt -type f | wc -l)" = $NFILES
'

test_expect_success 'reading every base file gives its content and keeps the fd cache bounded' '
	(cd base && find . -type f | sort | xargs cat) >want &&
	(cd mnt && find . -type f | sort | xargs cat) >got &&
	test_cmp want got &&
	n=$(daemon_fds) &&
	test "$n" -le $((FD_MAX + 64)) ||
	fc_fail "the daemon holds $n descriptors"
'

test_expect_success 'writing 6000 new files then reading them back: same bound' '
	make_files mnt/new $NFILES new &&
	make_files expect-new $NFILES new &&
	(cd expect-new && find . -type f | sort | xargs cat) >want &&
	(cd mnt/new && find . -type f | sort | xargs cat) >got &&
	test_cmp want got &&
	n=$(daemon_fds) &&
	test "$n" -le $((FD_MAX + 64)) ||
	fc_fail "the daemon holds $n descriptors"
'

test_expect_success 'files written before the fd cache dropped their fds survive a checkpoint and restore' '
	fc_treehash mnt >before.hash &&
	ctl checkpoint many --name written &&
	rm -rf mnt/new &&
	ctl restore many written &&
	fc_treehash mnt >after.hash &&
	test_cmp before.hash after.hash
'

test_expect_success 'an unlinked file is readable through an open fd; its blob goes at the last close' '
	n0=$(blobs) &&
	printf "still here\n" >mnt/u &&
	sync -f mnt &&
	wait_blobs $((n0 + 1)) &&
	exec 7<mnt/u &&
	rm mnt/u &&
	test_path_is_missing mnt/u &&
	sleep 0.5 &&
	test_cmp_int $((n0 + 1)) "$(blobs)" &&
	test "$(cat <&7)" = "still here" &&
	exec 7<&- &&
	wait_blobs $n0
'

test_expect_success 'an unlinked file nobody holds open loses its blob at once' '
	n0=$(blobs) &&
	printf "short-lived\n" >mnt/v &&
	sync -f mnt &&
	wait_blobs $((n0 + 1)) &&
	rm mnt/v &&
	wait_blobs $n0
'

test_expect_success 'O_TRUNC truncates, and a writer sees its own new content' '
	printf "0123456789\n" >mnt/t &&
	printf "ab\n" >mnt/t &&
	test "$(cat mnt/t)" = ab &&
	test_cmp_int 3 "$(stat -c %s mnt/t)" &&
	: >mnt/t &&
	test_cmp_int 0 "$(stat -c %s mnt/t)"
'

test_expect_success 'umount is clean and fsck finds no problem' '
	fc_umount many mnt &&
	ctl fsck
'

test_done
