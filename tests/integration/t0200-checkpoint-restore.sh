#!/bin/bash
# Checkpoint, restore (while mounted and unmounted), fork, time travel, diff,
# restore-path and export give back exactly the tree of a generation:
# content, modes, owners, times, xattrs, symlinks and hard links. Open files
# and a process whose cwd is inside the mount see the restored tree without
# a remount; inode numbers of unchanged files are stable, so git's index
# stat cache stays valid.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
fc_require_cmd git setfattr getfattr

# snap DIR NAME: save the full listing of DIR as NAME.
snap() {
	fc_treehash --owner --xattrs --mtime "$1" >"$TEST_TMP/$2.list"
}

# same_as DIR NAME: DIR's listing equals the saved NAME.
same_as() {
	fc_treehash --owner --xattrs --mtime "$1" >"$TEST_TMP/now.list" &&
	test_cmp "$TEST_TMP/$2.list" "$TEST_TMP/now.list"
}

# mutate DIR: change every kind of thing in a tree made by fc_fill_tree.
mutate() (
	cd "$1" &&
	echo more >>hello.txt &&
	printf 'X' >sub/nested.txt &&
	chmod 700 run.sh &&
	chown 1234:99 zero &&
	setfattr -n user.new -v 1 sub/nested.txt &&
	setfattr -x user.color hello.txt &&
	rm -f link && ln -s sub/nested.txt link &&
	ln sub/nested.txt sub/nested.hl &&
	rm sub/deeper/random.bin &&
	mkdir -p newdir/a && echo new >newdir/a/f &&
	mv sub/deeper sub/renamed &&
	truncate -s 3 run.sh &&
	rm dangling &&
	mkfifo newfifo &&
	touch -d @1000000000 zero &&
	rmdir empty
)

# inodes DIR: "path ino" of every entry.
inodes() {
	(cd "$1" && find . -mindepth 1 -printf '%p %i\n' | sort)
}

test_expect_success 'setup: cell c1 from a tree with every file type, mounted' '
	fc_fill_tree base &&
	fc_init c1 base &&
	fc_mount c1 mnt &&
	snap mnt base &&
	snap base base-dir &&
	test_cmp base.list base-dir.list
'

test_expect_success 'checkpoint k0, mutate, checkpoint k1' '
	ctl checkpoint c1 --name k0 &&
	snap mnt L0 &&
	test_cmp base.list L0.list &&
	mutate mnt &&
	snap mnt L1 &&
	! test_cmp L0.list L1.list 2>/dev/null &&
	ctl checkpoint c1 --name k1 &&
	same_as mnt L1
'

test_expect_success 'the base directory was never modified' '
	same_as base base-dir
'

test_expect_success 'restore k0 while mounted gives back the k0 tree' '
	ctl restore c1 k0 &&
	same_as mnt L0
'

test_expect_success 'restore k1 while mounted gives back the k1 tree' '
	ctl restore c1 k1 &&
	same_as mnt L1
'

test_expect_success 'restore without a checkpoint goes back to the latest one' '
	echo scratch >mnt/scratch && rm mnt/hello.txt &&
	ctl restore c1 &&
	same_as mnt L1
'

test_expect_success 'checkpoints lists k0 and k1 and marks the head' '
	ctl checkpoints c1 >out &&
	test_grep -w k0 out && test_grep -w k1 out && test_grep -i head out &&
	ctl --format json checkpoints c1 >out.json &&
	python3 -c "import json, sys; json.load(open(sys.argv[1]))" out.json
'

test_expect_success 'a process with its cwd in the mount sees the restored tree' '
	ctl restore c1 k0 &&
	(
		cd mnt/sub &&
		while [ ! -e "$TEST_TMP/stop" ]; do
			{ cat nested.txt; ls; } >"$TEST_TMP/seen.tmp" 2>&1
			mv "$TEST_TMP/seen.tmp" "$TEST_TMP/seen"
			sleep 0.05
		done
	) &
	reader=$! &&
	test_when_finished "touch $TEST_TMP/stop; while kill -0 $reader; do sleep 0.1; done" &&
	wait_seen() {
		for i in $(seq 100); do
			test -e seen && test_cmp_str "$1" "$(cat seen)" 2>/dev/null && return 0
			sleep 0.05
		done
		test_cmp_str "$1" "$(cat seen)"
	} &&
	wait_seen "$(printf "nested content\ndeeper\nnested.txt")" &&
	ctl restore c1 k1 &&
	wait_seen "$(printf "Xnested.hl\nnested.txt\nrenamed")" &&
	ctl restore c1 k0 &&
	wait_seen "$(printf "nested content\ndeeper\nnested.txt")"
'

test_expect_success 'open files across a restore: new opens see the restored file' '
	ctl restore c1 k0 &&
	exec 7<mnt/hello.txt &&
	exec 8>>mnt/sub/nested.txt &&
	ctl restore c1 k1 &&
	test_cmp_str "$(printf "hello\nmore")" "$(cat mnt/hello.txt)" &&
	test_cmp_str "X" "$(cat mnt/sub/nested.txt)" &&
	cat <&7 >/dev/null &&
	same_as mnt L1
'

test_expect_success 'writes through an fd opened before a restore never change a checkpoint' '
	ctl restore c1 k0 &&
	exec 8>>mnt/sub/nested.txt &&
	echo "head write" >&8 &&
	ctl restore c1 k0 &&
	{ echo "after restore" >&8 || true; } &&
	exec 8>&- &&
	ctl restore c1 k0 &&
	same_as mnt L0 &&
	ctl restore c1 k1 &&
	same_as mnt L1
'

test_expect_success 'time travel: a read-only mount of k0 next to the live cell' '
	ctl restore c1 k1 &&
	fc_mount c1 tt --checkpoint k0 &&
	test_when_finished "fc_umount c1 tt --checkpoint k0" &&
	same_as tt L0 &&
	same_as mnt L1 &&
	test_must_fail sh -c "echo x >tt/hello.txt" 2>err &&
	test_grep -i "read-only" err &&
	test_must_fail touch tt/newfile &&
	test_must_fail mkdir tt/newdir &&
	echo live >mnt/live-only &&
	test_path_is_missing tt/live-only &&
	rm mnt/live-only &&
	same_as tt L0
'

test_expect_success 'fork from k0 is isolated from its origin' '
	ctl fork c1 c2 --from k0 &&
	fc_mount c2 mnt2 &&
	test_when_finished "fc_umount c2 mnt2" &&
	same_as mnt2 L0 &&
	echo only-in-c2 >mnt2/hello.txt &&
	mkdir mnt2/c2dir &&
	same_as mnt L1 &&
	echo only-in-c1 >mnt/c1file &&
	test_path_is_missing mnt2/c1file &&
	ctl checkpoint c2 --name c2k &&
	ctl checkpoints c1 >out &&
	test_grep -v -w c2k out &&
	rm mnt/c1file &&
	ctl restore c2 c2k &&
	test_cmp_str only-in-c2 "$(cat mnt2/hello.txt)"
'

test_expect_success 'fork without --from takes the current head' '
	echo forked-head >mnt/marker &&
	snap mnt H &&
	ctl fork c1 c3 &&
	fc_mount c3 mnt3 &&
	test_when_finished "fc_umount c3 mnt3" &&
	same_as mnt3 H &&
	rm mnt/marker
'

# paths_of FILE: every "path" string in a JSON document, one per line.
paths_of() {
	python3 - "$1" <<'PY'
import json, sys
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "path" and isinstance(v, str):
                print(v.strip("/"))
            else:
                walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(json.load(open(sys.argv[1])))
PY
}

test_expect_success 'diff lists exactly the changed paths' '
	ctl restore c1 k1 &&
	ctl checkpoint c1 --name k2 &&
	echo added >mnt/added.txt &&
	echo changed >>mnt/hello.txt &&
	rm mnt/zero &&
	ctl --format json diff c1 >diff.json &&
	paths_of diff.json | sort -u >got &&
	printf "%s\n" added.txt hardlink hello.txt zero | sort >want &&
	grep -vx -e "" -e "\." got >got.nodirs || true &&
	test_cmp want got.nodirs &&
	ctl diff c1 >diff.txt &&
	for p in added.txt hello.txt zero; do test_grep -F "$p" diff.txt; done &&
	test_grep -v -F "nested" diff.txt
'

test_expect_success 'diff between two checkpoints' '
	ctl --format json diff c1 k0 k1 >d01.json &&
	paths_of d01.json | sort -u >got &&
	for p in hello.txt sub/nested.txt run.sh zero link newdir/a/f dangling newfifo; do
		grep -qx -F "$p" got || fc_fail "diff k0 k1 misses $p"
	done &&
	grep -qx -F "sub/deeper/random.bin" got &&
	test_grep -v -x -F "dir-untouched" got
'

test_expect_success 'restore-path brings single paths back, the rest stays' '
	ctl restore-path c1 k0 hello.txt sub/nested.txt &&
	test_cmp_str "hello" "$(cat mnt/hello.txt)" &&
	test_cmp_str "nested content" "$(cat mnt/sub/nested.txt)" &&
	test_cmp_str added "$(cat mnt/added.txt)" &&
	test_path_is_missing mnt/zero
'

test_expect_success 'export of a checkpoint equals its tree' '
	mkdir exp0 exp1 &&
	ctl export c1 exp0 --from k0 &&
	same_as exp0 L0 &&
	ctl export c1 exp1 --from k1 &&
	same_as exp1 L1
'

test_expect_success 'export of the head equals the mount' '
	snap mnt HEAD &&
	mkdir exph &&
	ctl export c1 exph &&
	same_as exph HEAD
'

test_expect_success 'inode numbers of unchanged files are stable across checkpoint and restore' '
	ctl restore c1 k1 &&
	inodes mnt >ino.before &&
	ctl checkpoint c1 --name k3 &&
	inodes mnt >ino.ckpt &&
	test_cmp ino.before ino.ckpt &&
	echo x >mnt/hello.txt &&
	ctl restore c1 k3 &&
	inodes mnt >ino.after &&
	test_cmp ino.before ino.after &&
	ctl restore c1 k0 &&
	ctl restore c1 k3 &&
	inodes mnt >ino.after2 &&
	test_cmp ino.before ino.after2
'

test_expect_success 'git index stat cache stays valid across checkpoint and restore' '
	mkdir mnt/repo &&
	(
		cd mnt/repo &&
		git init -q &&
		git config user.email t@example.com && git config user.name t &&
		for i in $(seq 50); do echo "line $i" >"f$i.txt"; done &&
		mkdir src && echo "int x;" >src/x.c &&
		git add . && git commit -qm init &&
		sleep 1.1 && git update-index --refresh >/dev/null &&
		git diff-files --quiet &&
		test -z "$(git status --porcelain)"
	) &&
	ctl checkpoint c1 --name git-clean &&
	echo dirty >>mnt/repo/f1.txt && rm mnt/repo/f2.txt && echo new >mnt/repo/untracked &&
	test -n "$(cd mnt/repo && git status --porcelain)" &&
	ctl restore c1 git-clean &&
	(
		cd mnt/repo &&
		{ git diff-files --quiet || { git diff-files; false; }; } &&
		git status --porcelain >"$TEST_TMP/st" &&
		{ test ! -s "$TEST_TMP/st" || { cat "$TEST_TMP/st"; false; }; } &&
		{ git fsck --no-progress || { echo "git fsck failed"; false; }; }
	)
'

test_expect_success 'restore of an unmounted cell, then mount' '
	ctl restore c1 k1 &&
	fc_umount c1 mnt &&
	ctl restore c1 k0 &&
	fc_mount c1 mnt &&
	same_as mnt L0 &&
	fc_umount c1 mnt &&
	ctl checkpoint c1 --name offline &&
	ctl restore c1 k1 &&
	fc_mount c1 mnt &&
	same_as mnt L1
'

test_expect_success 'after remounts: checkpoints kept, fsck clean' '
	ctl checkpoints c1 >out &&
	for k in k0 k1 k2 k3 git-clean offline; do test_grep -w "$k" out; done &&
	fc_umount c1 mnt &&
	ctl fsck
'

test_done
