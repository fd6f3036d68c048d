#!/bin/bash
# chmod, chown and utimes of files go to the daemon's in-memory overlay
# (no LMDB transaction each): they show at once, survive a checkpoint and
# restore, a remount, diff and export, and an fsync'ed change survives
# kill -9. A directory's change is written at once (files created in it
# read its setgid bit and group from the store).
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse

# attrs DIR: mode, owner and mtime of every entry under DIR, sorted.
attrs() { (cd "$1" && find . -mindepth 1 -printf '%p %m %U %G %T@\n' | sort); }

test_expect_success 'setup: a cell whose base has files, mounted' '
	mkdir -p base/sub &&
	for i in 1 2 3 4 5 6 7 8; do echo "f$i" >"base/f$i"; echo "s$i" >"base/sub/s$i"; done &&
	ln -s f1 base/link &&
	fc_init ov base &&
	fc_mount ov mnt
'

test_expect_success 'chmod, chown and touch -d show at once' '
	chmod 0751 mnt/f1 &&
	chown 1234:4321 mnt/f2 &&
	touch -h -d "2003-04-05 06:07:08.5" mnt/f3 mnt/link &&
	chmod 4755 mnt/sub/s1 &&
	chown -h 77:88 mnt/link &&
	test "$(stat -c %a mnt/f1)" = 751 &&
	test "$(stat -c %u:%g mnt/f2)" = 1234:4321 &&
	test "$(stat -c %Y mnt/f3)" = "$(date -d "2003-04-05 06:07:08" +%s)" &&
	test "$(stat -c %a mnt/sub/s1)" = 4755 &&
	test "$(stat -c %u:%g mnt/link)" = 77:88 &&
	test "$(readlink mnt/link)" = f1 &&
	attrs mnt >changed.attrs
'

test_expect_success 'a checkpoint holds the changes; restore brings them back exactly' '
	ctl checkpoint ov --name changed &&
	chmod 0600 mnt/f1 mnt/f2 mnt/f3 &&
	chown 0:0 mnt/f2 &&
	ctl restore ov changed &&
	attrs mnt >got &&
	test_cmp changed.attrs got
'

test_expect_success 'diff and export see the changes without a sync first' '
	chmod 0640 mnt/f4 &&
	ctl --format json diff ov changed >d.json &&
	test_grep -F "\"f4\"" d.json &&
	ctl export ov exported &&
	test "$(stat -c %a exported/f4)" = 640 &&
	test "$(stat -c %u:%g exported/f2)" = 1234:4321
'

test_expect_success 'the changes survive a remount' '
	attrs mnt >before &&
	fc_umount ov mnt &&
	fc_mount ov mnt &&
	attrs mnt >after &&
	test_cmp before after
'

test_expect_success 'an fsync after chmod makes it survive kill -9' '
	chmod 0704 mnt/f5 &&
	python3 -c "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)" mnt/f5 &&
	fc_kill9 mnt &&
	ctl umount ov >/dev/null 2>&1 || true &&
	fc_mount ov mnt &&
	test "$(stat -c %a mnt/f5)" = 704
'

test_expect_success 'a write after chmod keeps the mode; a chmod after a write keeps the size' '
	chmod 0705 mnt/f6 &&
	echo more >>mnt/f6 &&
	chmod 0706 mnt/f7 &&
	echo more >>mnt/f7 &&
	chmod 0707 mnt/f7 &&
	test "$(stat -c %a:%s mnt/f6)" = 705:8 &&
	test "$(stat -c %a:%s mnt/f7)" = 707:8 &&
	fc_umount ov mnt &&
	fc_mount ov mnt &&
	test "$(stat -c %a:%s mnt/f6)" = 705:8 &&
	test "$(stat -c %a:%s mnt/f7)" = 707:8
'

test_expect_success 'a setgid directory changed while mounted gives its group to new files' '
	mkdir mnt/g &&
	chown 0:4242 mnt/g &&
	chmod 2775 mnt/g &&
	: >mnt/g/new &&
	test "$(stat -c %g mnt/g/new)" = 4242
'

test_expect_success 'umount is clean and fsck finds no problem' '
	fc_umount ov mnt &&
	ctl fsck
'

test_done
