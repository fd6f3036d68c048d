#!/bin/bash
# stress-ng file-system stressors with --verify and fio with verification
# run on a forkcellfs mount, interleaved with checkpoints; afterwards the
# checkpoints restore, the store passes fsck and the daemon log is clean.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
fc_require_cmd stress-ng fio

SECS=8
[ "$FC_ASAN" = 1 ] && SECS=5

# stress NAME ARGS...: one stress-ng run in mnt/NAME; fails on any failure.
stress() {
	local name=$1
	shift
	mkdir -p "mnt/$name" &&
	fc_t $((SECS * 6 + 60)) stress-ng --temp-path "mnt/$name" --verify --timeout "${SECS}s" \
		--metrics-brief "$@" >"stress.$name" 2>&1 || {
		cat "stress.$name"
		return 1
	}
	if ! grep -q "successful run completed" "stress.$name" ||
		grep -E "^stress-ng: (fail|error):" "stress.$name"; then
		cat "stress.$name"
		return 1
	fi
	return 0
}

test_expect_success 'setup: a mounted cell' '
	fc_fill_tree base &&
	fc_init st base &&
	fc_mount st mnt
'

test_expect_success 'stress-ng --hdd --verify' '
	stress hdd --hdd 2 --hdd-bytes 32M
'

test_expect_success 'stress-ng --dir --link --symlink --rename' '
	stress names --dir 1 --link 1 --symlink 1 --rename 1
'

test_expect_success 'checkpoint in the middle' '
	ctl checkpoint st --name mid &&
	fc_treehash mnt >mid.list
'

test_expect_success 'stress-ng --xattr --fallocate --seek' '
	stress attrs --xattr 1 --fallocate 1 --fallocate-bytes 16M --seek 1 --seek-size 16M
'

test_expect_success 'stress-ng --mmap on a file, --lockf, --flock, --dentry' '
	stress mm --mmap 1 --mmap-file --mmap-bytes 16M --lockf 1 --flock 1 --dentry 1
'

test_expect_success 'stress-ng --iomix --readahead' '
	stress mix --iomix 1 --iomix-bytes 16M --readahead 1 --readahead-bytes 16M
'

test_expect_success 'fio random writes with crc32c verification (psync)' '
	mkdir -p mnt/fio &&
	fc_t 300 fio --name=randw --directory=mnt/fio --rw=randwrite --bs=4k --size=32M \
		--numjobs=2 --ioengine=psync --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--fsync=64 >fio1.out 2>&1 || { cat fio1.out; false; } &&
	test_grep -E "err= *0" fio1.out
'

test_expect_success 'fio sequential 1M writes through mmap with md5 verification' '
	fc_t 300 fio --name=seqmm --directory=mnt/fio --rw=write --bs=1M --size=64M \
		--ioengine=mmap --verify=md5 --do_verify=1 --verify_fatal=1 >fio2.out 2>&1 ||
		{ cat fio2.out; false; } &&
	test_grep -E "err= *0" fio2.out
'

test_expect_success 'fio verify pass after a checkpoint (copy-up of written files)' '
	ctl checkpoint st --name after-fio &&
	fc_t 300 fio --name=randw --directory=mnt/fio --rw=randwrite --bs=4k --size=32M \
		--numjobs=2 --ioengine=psync --verify=crc32c --do_verify=1 --verify_fatal=1 \
		>fio3.out 2>&1 || { cat fio3.out; false; } &&
	test_grep -E "err= *0" fio3.out
'

test_expect_success 'the mid checkpoint still restores exactly' '
	ctl restore st mid &&
	fc_treehash mnt >now.list &&
	test_cmp mid.list now.list
'

test_expect_success 'umount and fsck clean' '
	fc_umount st mnt &&
	ctl fsck
'

test_done
