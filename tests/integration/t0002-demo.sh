#!/bin/bash
# The README's first command: scripts/demo.sh runs end to end with the built
# programs: a governed run of a failing agent is restored, and its signed
# receipt says so.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse

test_expect_success 'scripts/demo.sh runs and restores the workspace' '
	fc_t 300 env FORKCELL_BIN="$FORKCELL_BIN" "$FC_SRCDIR/scripts/demo.sh" >demo.out 2>&1 ||
		{ cat demo.out; false; } &&
	test_grep "exited 1; decision: restored" demo.out &&
	test_grep "Decision: \`restored\`" demo.out &&
	test_grep "receipt chain intact" demo.out &&
	test_grep "workspace restored: every path, mode and byte equals the checkpoint" demo.out &&
	test_grep "README.md" demo.out &&
	test_grep "before-agent" demo.out &&
	test_grep "demo finished" demo.out
'

test_expect_success 'the demo cleaned up after itself' '
	! grep -q "forkcell-demo" /proc/self/mountinfo
'

test_done
