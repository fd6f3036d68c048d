#!/bin/bash
# The README's first command: scripts/demo.sh runs end to end with the built
# programs and proves the workspace came back after the failing agent.
. "$(dirname "$0")/lib.sh"

fc_require_binaries
fc_require_fuse

test_expect_success 'scripts/demo.sh runs and restores the workspace' '
	fc_t 300 env FORKCELL_BIN="$FORKCELL_BIN" "$FC_SRCDIR/scripts/demo.sh" >demo.out 2>&1 ||
		{ cat demo.out; false; } &&
	test_grep "agent exited with status 1" demo.out &&
	test_grep "workspace restored: every path, mode and byte equals the checkpoint" demo.out &&
	test_grep "README.md" demo.out &&
	test_grep "before-agent" demo.out &&
	test_grep "demo finished" demo.out
'

test_expect_success 'the demo cleaned up after itself' '
	! grep -q "forkcell-demo" /proc/self/mountinfo
'

test_done
