#!/bin/bash
# The programs are built and every command documents itself: `--help` exits
# 0 and names the command; bad usage exits 2.
. "$(dirname "$0")/lib.sh"

COMMANDS="init mount umount status list checkpoint checkpoints restore fork diff
restore-path export gc fsck delete"

test_expect_success 'forkcellfs and forkcellctl are built and executable' '
	test -x "$FC_FS" && test -x "$FC_CTL" &&
	file_type=$(head -c 4 "$FC_CTL" | od -An -c | tr -d " ") &&
	test_cmp_str "177ELF" "$file_type"
'

test_expect_success 'forkcellctl --help lists every cell command' '
	fc_t 10 "$FC_CTL" --help >out 2>&1 &&
	for c in $COMMANDS; do
		grep -Eq "(^|[[:space:]])$c([[:space:]]|$)" out || fc_fail "--help does not list $c"
	done
'

for c in $COMMANDS; do
	test_expect_success "forkcellctl $c --help exits 0 and shows its usage" "
		fc_t 10 \"\$FC_CTL\" $c --help >out 2>&1 &&
		test_grep -i 'usage' out &&
		test_grep -F -- '$c' out
	"
done

test_expect_success 'forkcellctl without a command is a usage error (exit 2)' '
	rc=0 && fc_t 10 "$FC_CTL" >out 2>&1 || rc=$? &&
	test_cmp_int 2 $rc &&
	test_grep -i usage out
'

test_expect_success 'an unknown command is a usage error naming it (exit 2)' '
	rc=0 && fc_t 10 "$FC_CTL" frobnicate >out 2>&1 || rc=$? &&
	test_cmp_int 2 $rc &&
	test_grep frobnicate out
'

test_expect_success 'an unknown option is a usage error (exit 2)' '
	rc=0 && fc_t 10 "$FC_CTL" list --no-such-option >out 2>&1 || rc=$? &&
	test_cmp_int 2 $rc &&
	test_grep -- --no-such-option out
'

test_expect_success 'a missing required argument is a usage error (exit 2)' '
	rc=0 && fc_t 10 "$FC_CTL" --store "$STORE" checkpoint >out 2>&1 || rc=$? &&
	test_cmp_int 2 $rc
'

test_expect_success 'forkcellfs --help exits 0 and documents its options' '
	fc_t 10 "$FC_FS" --help >out 2>&1 &&
	test_grep -i usage out &&
	for o in cell= checkpoint= allow_other default_permissions ro log=; do
		test_grep -F -- "$o" out
	done
'

test_expect_success 'forkcellfs without a cell option fails cleanly' '
	mkdir -p mnt &&
	test_must_fail fc_t 20 "$FC_FS" "$STORE" mnt 2>err &&
	! fc_is_mounted mnt
'

test_expect_success 'the C test helpers are built' '
	test -x "$(fc_helper fsops)"
'

test_done
