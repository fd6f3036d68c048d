#!/bin/bash
# Checkpoint, restore and fork against a model: a randomised but seeded
# operation sequence runs on a forkcellfs mount and on an ext4 copy; every
# operation must give the same result on both, and after every restore and
# fork the mount's canonical tree listing must equal the model's
# (tests/helpers/model.py). Seeds are fixed so failures reproduce; set
# FORKCELL_MODEL_SEED to run another one as well.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse
fc_require_cmd python3

OPS=400
[ "$FC_ASAN" = 1 ] && OPS=200
SEEDS="11 20261128 ${FORKCELL_MODEL_SEED:-}"

for seed in $SEEDS; do
	test_expect_success "model run, seed $seed, $OPS operations" '
		cell=m$seed &&
		fc_fill_tree "base$seed" &&
		fc_init "$cell" "base$seed" &&
		fc_mount "$cell" "mnt$seed" &&
		test_when_finished "fc_umount $cell mnt$seed" &&
		mkdir -p "$(fc_ext4_dir "work$seed")" &&
		fc_t 900 python3 "$FC_PYHELPERS/model.py" --ctl "$FC_CTL" --store "$STORE" \
			--cell "$cell" --mnt "$TEST_TMP/mnt$seed" \
			--work "$(fc_ext4_dir "work$seed")" --seed "$seed" --ops $OPS \
			--pids "$TEST_TMP/.pids" --logs "$TEST_TMP/logs" >model.out 2>&1 ||
		{ cat model.out; false; }
	'
done

test_expect_success 'the base directories were never modified' '
	for seed in $SEEDS; do
		fc_fill_tree "fresh$seed" &&
		fc_treehash --owner --xattrs "base$seed" >a &&
		fc_treehash --owner --xattrs "fresh$seed" >b &&
		{ diff a b | grep "^[<>]" | grep -v random.bin >d || true; } &&
		test_cmp /dev/null d || exit 1
	done
'

test_expect_success 'fsck is clean after all model runs' '
	ctl fsck
'

test_done
