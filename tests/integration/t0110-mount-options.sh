#!/bin/bash
# forkcellfs as a mount program: `mount -t fuse.forkcellfs STORE DIR -o
# cell=NAME` works through mount.fuse3, and the options behave: ro refuses
# writes, allow_other lets another user in (without it the kernel keeps
# other users out), default_permissions enforces modes, log= writes a log.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
fc_require_cmd mount.fuse3 setpriv

# as_nobody CMD...: run CMD as uid/gid 65534 without supplementary groups.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}

test_expect_success 'setup: a cell' '
	fc_fill_tree base &&
	chmod 755 base &&
	echo secret >base/secret && chmod 600 base/secret &&
	fc_init opt base
'

test_expect_success 'mount -t fuse.forkcellfs STORE DIR -o cell=NAME' '
	mkdir -p bin m1 &&
	ln -s "$FC_FS" bin/forkcellfs &&
	mount --bind bin /usr/local/bin &&
	test_when_finished "umount /usr/local/bin" &&
	fc_t 60 mount -t fuse.forkcellfs "$STORE" m1 \
		-o "cell=opt,log=$TEST_TMP/logs/opt.m1.log" &&
	fc_wait_mounted m1 &&
	pid=$(fc_mnt_pid m1) &&
	fc_record_pid "$pid" &&
	test "$(fc_mount_fstype m1)" = fuse.forkcellfs &&
	test_cmp_str hello "$(cat m1/hello.txt)" &&
	echo written >m1/new &&
	umount m1 &&
	fc_wait_unmounted m1 &&
	fc_wait_pid_gone "$pid" 10 &&
	test -e logs/opt.m1.log
'

test_expect_success 'ro: reads work, every write is EROFS' '
	fc_mount opt m2 --ro &&
	test_when_finished "umount m2 2>/dev/null || true" &&
	test_cmp_str written "$(cat m2/new)" &&
	test_must_fail sh -c "echo x >m2/new" 2>err && test_grep -i "read-only" err &&
	test_must_fail mkdir m2/d 2>err && test_grep -i "read-only" err &&
	test_must_fail rm m2/new 2>err && test_grep -i "read-only" err &&
	test_must_fail chmod 700 m2/new 2>err && test_grep -i "read-only" err &&
	test_must_fail setfattr -n user.x -v 1 m2/new 2>err && test_grep -i "read-only" err &&
	ctl status opt >st.out && test_grep -F "$TEST_TMP/m2" st.out &&
	fc_umount opt m2
'

test_expect_success 'without allow_other another user is kept out' '
	fc_mount opt m3 &&
	test_when_finished "fc_umount opt m3" &&
	test_must_fail as_nobody ls m3 2>err &&
	test_grep -i "permission denied" err
'

test_expect_success 'allow_other lets another user in; modes are enforced' '
	fc_mount opt m4 --allow-other &&
	test_when_finished "fc_umount opt m4" &&
	test_cmp_str hello "$(as_nobody cat m4/hello.txt)" &&
	test_must_fail as_nobody cat m4/secret 2>err &&
	test_grep -i "permission denied" err &&
	test_must_fail as_nobody sh -c "echo x >m4/hello.txt" 2>err &&
	test_grep -i "permission denied" err &&
	mkdir m4/pub && chmod 1777 m4/pub &&
	as_nobody sh -c "echo mine >m4/pub/nobody.txt" &&
	test "$(stat -c %u:%g m4/pub/nobody.txt)" = 65534:65534
'

test_expect_success 'forkcellfs directly, with -o after the positional arguments' '
	mkdir -p m5 &&
	fc_t 60 "$FC_FS" "$STORE" m5 -o "cell=opt,log=$TEST_TMP/logs/opt.m5.log" &&
	fc_wait_mounted m5 &&
	fc_record_pid "$(fc_mnt_pid m5)" &&
	test_cmp_str written "$(cat m5/new)" &&
	ctl status opt >st.out &&
	test_grep -F "$TEST_TMP/m5" st.out &&
	fc_umount opt m5
'

test_expect_success 'threads=4 serves on a pool of threads; a bad count is refused' '
	fc_mount_fs opt m8 threads=4 &&
	pid=$(fc_mnt_pid m8) &&
	for i in 1 2 3 4 5 6 7 8; do
		{ dd if=/dev/zero of=m8/par$i bs=64k count=64 status=none && cat m8/par$i >/dev/null; } &
	done &&
	wait &&
	test_cmp_int 8 "$(ls m8 | grep -c "^par")" &&
	n=$(ls /proc/$pid/task | wc -l) &&
	test "$n" -ge 4 ||
	fc_fail "the daemon runs $n threads" &&
	fc_umount opt m8 &&
	mkdir -p m9 &&
	for bad in 0 65 x 4x; do
		test_must_fail fc_t 60 "$FC_FS" -o "cell=opt,threads=$bad" "$STORE" m9 2>err &&
		test_grep -F "threads must be 1 to 64" err &&
		! fc_is_mounted m9 || return 1
	done
'

test_expect_success 'a second daemon for the same cell is refused' '
	fc_mount opt m6 &&
	test_when_finished "fc_umount opt m6" &&
	mkdir -p m7 &&
	test_must_fail fc_t 60 "$FC_FS" -o cell=opt "$STORE" m7 2>err &&
	test -s err &&
	! fc_is_mounted m7
'

test_done
