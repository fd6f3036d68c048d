#!/bin/bash
# The POSIX battery (tests/helpers/fsops.c) passes on ext4, the oracle, and
# group by group on a forkcellfs mount; then again after a checkpoint, in a
# cell made from a populated base directory.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
FSOPS=$(fc_helper fsops)
[ -x "$FSOPS" ] || skip_all "fsops helper not built"
FSOPS_GROUPS=$("$FSOPS" -l)

# battery DIR GROUP...: run fsops; on failure show the failing checks.
battery() {
	local dir=$1 log
	shift
	log=$TEST_TMP/fsops.$(echo "$dir $*" | md5sum | cut -c1-8)
	if fc_t 600 "$FSOPS" "$dir" "$@" >"$log" 2>&1; then
		return 0
	fi
	grep -A3 '^not ok' "$log" | head -n 80
	tail -n 3 "$log"
	return 1
}

test_expect_success 'setup: an ext4 oracle directory and a mounted cell' '
	EXT4=$(fc_ext4_dir oracle) &&
	test "$(stat -f -c %T "$EXT4")" = ext2/ext3 &&
	echo "$EXT4" >ext4.path &&
	mkdir -p base &&
	fc_init posix base &&
	fc_mount posix mnt --allow-other &&
	test "$(fc_mount_fstype mnt)" = fuse.forkcellfs
'

for g in $FSOPS_GROUPS; do
	test_expect_success "ext4 oracle: $g" '
		battery "$(cat ext4.path)" $g
	'
	test_expect_success "forkcellfs: $g" '
		battery mnt $g
	'
done

test_expect_success 'the battery again in a fresh directory after a checkpoint' '
	ctl checkpoint posix --name after-battery &&
	mkdir mnt/round2 &&
	battery mnt/round2
'

test_expect_success 'a cell made from a populated base: battery next to base files' '
	fc_fill_tree base2 &&
	cp -a "$(cat ext4.path)/files" base2/oracle-files &&
	fc_init based base2 &&
	fc_mount based mnt2 --allow-other &&
	test_when_finished "fc_umount based mnt2" &&
	battery mnt2
'

test_expect_success 'the battery passes on a read-write mount made by forkcellfs directly' '
	fc_init direct base3 &&
	fc_mount_fs direct mnt3 allow_other &&
	test_when_finished "fc_umount direct mnt3" &&
	battery mnt3 files dirs rename xattr hardlinks
'

test_expect_success 'umount is clean and fsck finds no problem' '
	fc_umount posix mnt &&
	ctl fsck
'

test_done
