#!/bin/bash
# gc reclaims the blobs of abandoned generations and of deleted cells,
# --dry-run changes nothing, every checkpoint still restores exactly after
# gc, and fsck is clean.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse

blob_list() { (cd "$STORE/blobs" && find . -type f -printf '%p %s\n' | sort); }
blob_bytes() { find "$STORE/blobs" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

# write_files DIR TAG: five 1 MiB files with content depending on TAG.
write_files() {
	for i in 1 2 3 4 5; do
		python3 -c "import sys; sys.stdout.buffer.write((sys.argv[1].encode() * (1 << 20))[:1 << 20])" \
			"$2-$i-" >"$1/f$i" || return 1
	done
	sync -f "$1"
}

test_expect_success 'setup: checkpoints k1 and k2 with different data, an abandoned head' '
	mkdir base &&
	fc_init g base &&
	fc_mount g mnt &&
	write_files mnt one &&
	ctl checkpoint g --name k1 &&
	fc_treehash mnt >k1.list &&
	write_files mnt two &&
	ctl checkpoint g --name k2 &&
	fc_treehash mnt >k2.list &&
	ctl restore g k1 &&
	write_files mnt abandoned &&
	ctl restore g k1 &&
	write_files mnt abandoned2 &&
	ctl restore g k2 &&
	blob_bytes >before.bytes &&
	test "$(cat before.bytes)" -ge $((20 * 1024 * 1024))
'

test_expect_success 'gc --dry-run reports bytes and changes nothing' '
	blob_list >blobs.before &&
	ctl checkpoints g >ckpts.before &&
	ctl gc g --dry-run >dry.out &&
	cat dry.out &&
	test_grep -E "[1-9][0-9]* *(bytes|B|KiB|MiB)" dry.out &&
	blob_list >blobs.after &&
	test_cmp blobs.before blobs.after &&
	ctl checkpoints g >ckpts.after &&
	test_cmp ckpts.before ckpts.after
'

test_expect_success 'gc reclaims the abandoned generations (cell mounted)' '
	ctl gc g >gc.out &&
	cat gc.out &&
	after=$(blob_bytes) &&
	echo "blob bytes $(cat before.bytes) -> $after" &&
	test "$after" -le $(($(cat before.bytes) - 9 * 1024 * 1024)) &&
	ctl fsck
'

test_expect_success 'every checkpoint still restores exactly after gc' '
	ctl restore g k1 && fc_treehash mnt >now && test_cmp k1.list now &&
	ctl restore g k2 && fc_treehash mnt >now && test_cmp k2.list now &&
	ctl checkpoints g >out && test_grep -w k1 out && test_grep -w k2 out
'

test_expect_success 'a second gc finds nothing more to reclaim that is in use' '
	ctl gc g &&
	ctl restore g k1 && fc_treehash mnt >now && test_cmp k1.list now &&
	ctl fsck
'

test_expect_success 'gc --all reclaims a deleted cell' '
	ctl fork g doomed --from k2 &&
	fc_mount doomed mnt2 &&
	write_files mnt2 doomed &&
	fc_umount doomed mnt2 &&
	before=$(blob_bytes) &&
	ctl delete doomed &&
	ctl gc --all >gc2.out &&
	cat gc2.out &&
	test "$(blob_bytes)" -le $((before - 4 * 1024 * 1024)) &&
	ctl restore g k2 && fc_treehash mnt >now && test_cmp k2.list now
'

test_expect_success 'the name of a deleted cell can be used again' '
	ctl fork g reborn --from k1 &&
	ctl delete reborn &&
	ctl init reborn --from base &&
	ctl delete reborn &&
	ctl init reborn --from base &&
	ctl checkpoints reborn >out &&
	test_grep -w base out &&
	ctl delete reborn
'

test_expect_success 'gc of an unmounted cell, then fsck' '
	ctl restore g k1 &&
	write_files mnt late &&
	fc_umount g mnt &&
	ctl restore g k2 &&
	before=$(blob_bytes) &&
	blob_list >u.before &&
	ctl gc g --dry-run >udry.out &&
	test_grep -E "[1-9][0-9]* *(bytes|B|KiB|MiB)" udry.out &&
	blob_list >u.after &&
	test_cmp u.before u.after &&
	ctl gc g &&
	test "$(blob_bytes)" -lt "$before" &&
	ctl fsck &&
	fc_mount g mnt &&
	fc_treehash mnt >now && test_cmp k2.list now &&
	fc_umount g mnt
'

test_done
