# shellcheck shell=bash
#
# lib.sh: the library every integration test sources. Git-style TAP.
#
#   . "$(dirname "$0")/lib.sh"
#   fc_require_root; fc_require_fuse
#   test_expect_success 'what is checked' '
#           fc_init c1 "$TEST_TMP/src" &&
#           ...
#   '
#   test_done
#
# What it does for a test:
# - re-executes the script as root inside `unshare -m --propagation private`
#   (mounts stay private to the test) under an overall watchdog timeout;
# - gives it a temp dir $TEST_TMP and a store $STORE ($FORKCELL_HOME too);
# - runs each test body in a subshell with `set -e -o pipefail`, so a failing
#   command fails the test even without an && chain. Variables set in a body
#   do not survive it: keep shared state in files under $TEST_TMP;
# - test_when_finished CMD: run CMD after the current test, pass or fail;
# - cleans up on exit, even on failure or timeout: unmounts everything below
#   $TEST_TMP, kills the daemons it started (by recorded pid) and removes
#   $TEST_TMP (kept when FORKCELL_TEST_KEEP=1);
# - test_done adds a last test that scans the daemon logs and the sanitizer
#   reports for ERROR, AddressSanitizer, runtime error:, LeakSanitizer.
#
# Skips: skip_all "why" prints "1..0 # SKIP why"; with FORKCELL_TEST_MUST_WORK=1
# (set in CI) a skip is a failure instead.
#
# Environment: FORKCELL_BIN (directory with forkcellfs, forkcellctl and
# tests/helpers/*; default build/release), FORKCELL_TEST_TIMEOUT (watchdog,
# seconds, default 900), FORKCELL_TEST_TMPDIR (parent of $TEST_TMP),
# FORKCELL_TEST_VERBOSE=1 (print test bodies' output), FORKCELL_TEST_KEEP=1.

TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FC_SRCDIR=$(cd "$TEST_DIR/../.." && pwd)
: "${FORKCELL_BIN:=$FC_SRCDIR/build/release}"
FORKCELL_BIN=$(cd "$FORKCELL_BIN" 2>/dev/null && pwd || echo "$FORKCELL_BIN")
export FORKCELL_BIN
FC_HELPERS=$FORKCELL_BIN/tests/helpers
FC_PYHELPERS=$FC_SRCDIR/tests/helpers
FC_CTL=$FORKCELL_BIN/forkcellctl
FC_FS=$FORKCELL_BIN/forkcellfs
# Default timeout (seconds) of each external command run through fc_t.
: "${FC_TIMEOUT:=120}"

# A sanitized build is slower: heavy tests scale their loops down with this.
FC_ASAN=0
case "$FORKCELL_BIN" in */asan | */asan/) FC_ASAN=1 ;; esac

# ---- TAP output --------------------------------------------------------

test_count=0
test_failures=0
fc_skip_all_reason=

say() { printf '%s\n' "$*"; }

# diag MSG...: a TAP comment line (goes to stderr so prove shows it).
diag() {
	local line
	printf '%s\n' "$*" | while IFS= read -r line; do
		printf '# %s\n' "$line" >&2
	done
}

fc_must_work() { [ "${FORKCELL_TEST_MUST_WORK:-0}" = 1 ]; }

# skip_all WHY: skip the whole test (a failure with FORKCELL_TEST_MUST_WORK=1).
skip_all() {
	if fc_must_work; then
		say "1..1"
		say "not ok 1 - required prerequisite missing: $*"
		diag "FORKCELL_TEST_MUST_WORK=1: skipping is a failure here"
		exit 1
	fi
	say "1..0 # SKIP $*"
	exit 0
}

# fc_tap_result STATUS DESC: record one test result (STATUS 0 = pass).
fc_tap_result() {
	test_count=$((test_count + 1))
	if [ "$1" = 0 ]; then
		say "ok $test_count - $2"
	else
		test_failures=$((test_failures + 1))
		say "not ok $test_count - $2"
	fi
}

# test_skip DESC WHY: one skipped test (a failure with FORKCELL_TEST_MUST_WORK=1).
test_skip() {
	if fc_must_work; then
		fc_tap_result 1 "$1 (skipped: $2; skips are failures here)"
	else
		test_count=$((test_count + 1))
		say "ok $test_count # skip $1 ($2)"
	fi
}

# ---- per-test cleanup ----------------------------------------------------

# test_when_finished CMD: run CMD (eval'd) after the current test body,
# last registered first. Works from the test's subshell: each command goes
# to its own file in $TEST_TMP/.when_finished/.
test_when_finished() {
	local n
	n=$(find "$TEST_TMP/.when_finished" -type f | wc -l)
	printf '%s\n' "$*" >"$TEST_TMP/.when_finished/$(printf '%06d' "$n")"
}

fc_run_when_finished() {
	local f rc=0
	for f in $(find "$TEST_TMP/.when_finished" -type f | sort -r); do
		( eval "$(cat "$f")" ) >>"$TEST_TMP/.out" 2>&1 || rc=1
		rm -f "$f"
	done
	return $rc
}

# test_expect_success DESC BODY: run BODY in a subshell with set -e.
test_expect_success() {
	local desc=$1 body=$2 rc
	: >"$TEST_TMP/.out"
	if [ "${FORKCELL_TEST_VERBOSE:-0}" = 1 ]; then
		(
			set -e -o pipefail
			eval "$body"
		) 2>&1 | tee -a "$TEST_TMP/.out" >&2
		rc=${PIPESTATUS[0]}
	else
		(
			set -e -o pipefail
			eval "$body"
		) >>"$TEST_TMP/.out" 2>&1 </dev/null
		rc=$?
	fi
	fc_run_when_finished || diag "cleanup of '$desc' failed"
	fc_tap_result "$rc" "$desc"
	if [ "$rc" != 0 ]; then
		diag "failed (exit $rc): $desc"
		diag "body:$body"
		diag "output (last 60 lines):"
		diag "$(tail -n 60 "$TEST_TMP/.out")"
	fi
	return 0
}

# test_expect_code CODE DESC BODY: BODY must exit with exactly CODE.
test_expect_code() {
	local code=$1
	shift
	test_expect_success "$1" "( $2 ) && rc=0 || rc=\$?; test_cmp_int $code \"\$rc\""
}

# ---- assertions (use inside bodies) --------------------------------------

fc_fail() {
	echo "FAIL: $*" >&2
	return 1
}

test_cmp() {
	diff -u "$1" "$2" >&2 || fc_fail "files $1 and $2 differ"
}

test_cmp_int() {
	[ "$1" -eq "$2" ] || fc_fail "expected $1, got $2"
}

test_cmp_str() {
	[ "$1" = "$2" ] || fc_fail "expected '$1', got '$2'"
}

# test_grep [-v] [grep options] PATTERN FILE: grep with a diagnostic.
test_grep() {
	local neg=0
	if [ "$1" = "-v" ]; then
		neg=1
		shift
	fi
	local file=${!#}
	if [ $neg = 1 ]; then
		if grep "$@" >/dev/null; then
			echo "FAIL: unexpected match for '$*'; $file is:" >&2
			cat "$file" >&2
			return 1
		fi
	elif ! grep "$@" >/dev/null; then
		echo "FAIL: no match for '$*'; $file is:" >&2
		cat "$file" >&2
		return 1
	fi
}

# test_must_fail CMD...: CMD must exit non-zero, but not by a signal or
# timeout (>= 124), which would be a crash rather than a clean error.
test_must_fail() {
	local rc=0
	"$@" || rc=$?
	if [ $rc = 0 ]; then
		fc_fail "command succeeded but should fail: $*"
	elif [ $rc -ge 124 ]; then
		fc_fail "command died (exit $rc) instead of failing cleanly: $*"
	fi
}

# test_path_is_file / _dir / _missing
test_path_is_file() { [ -f "$1" ] || fc_fail "not a file: $1"; }
test_path_is_dir() { [ -d "$1" ] || fc_fail "not a directory: $1"; }
test_path_is_missing() { [ ! -e "$1" ] && [ ! -L "$1" ] || fc_fail "exists: $1"; }

# ---- running commands ------------------------------------------------------

# fc_t [SECONDS] CMD...: run CMD under timeout (default FC_TIMEOUT).
fc_t() {
	local secs=$FC_TIMEOUT
	case "$1" in [0-9]*) secs=$1; shift ;; esac
	timeout -k 10 "$secs" "$@"
}

# ctl ARGS...: forkcellctl on the test's store, under timeout.
ctl() {
	timeout -k 10 "$FC_TIMEOUT" "$FC_CTL" --store "$STORE" "$@"
}

# ctl_err EXPECTED_RE ARGS...: forkcellctl must fail (1 or 2, never a crash)
# and its stderr must match EXPECTED_RE (extended regex, case-insensitive).
ctl_err() {
	local re=$1 rc=0
	shift
	ctl "$@" >"$TEST_TMP/.ctl_out" 2>"$TEST_TMP/.ctl_err" || rc=$?
	if [ $rc = 0 ]; then
		cat "$TEST_TMP/.ctl_out" >&2
		fc_fail "forkcellctl $* succeeded but should fail"
		return 1
	fi
	if [ $rc -ge 124 ] || [ $rc -gt 2 ]; then
		cat "$TEST_TMP/.ctl_err" >&2
		fc_fail "forkcellctl $* exited $rc (expected 1 or 2)"
		return 1
	fi
	if ! grep -Eiq -- "$re" "$TEST_TMP/.ctl_err"; then
		echo "stderr was:" >&2
		cat "$TEST_TMP/.ctl_err" >&2
		fc_fail "forkcellctl $*: stderr does not match /$re/"
		return 1
	fi
}

# ---- prerequisites ---------------------------------------------------------

fc_require_root() {
	[ "$(id -u)" = 0 ] || skip_all "needs root"
}

fc_require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "needs $c"
	done
}

fc_require_fuse() {
	[ -c /dev/fuse ] || modprobe fuse 2>/dev/null || true
	[ -c /dev/fuse ] || skip_all "needs /dev/fuse"
	fc_require_cmd fusermount3
}

# fc_require_docker: a docker engine that answers, the sandbox image
# ($IMAGE, default forkcell-sandbox:latest from `make docker-image`), and
# DOCKERD_PID. Defines hctl (forkcellctl on $STORE) and hcat, which run in
# dockerd's mount namespace: dockerd resolves bind sources there, so mounts
# that containers see must be made there, not in this test's namespace.
fc_require_docker() {
	fc_require_cmd docker nsenter
	IMAGE=${FORKCELL_IMAGE:-forkcell-sandbox:latest}
	fc_t 30 docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
		skip_all "no docker engine answers (start one with scripts/start-dockerd.sh)"
	fc_t 30 docker image inspect "$IMAGE" >/dev/null 2>&1 ||
		skip_all "no image $IMAGE (build it with make docker-image)"
	DOCKERD_PID=$(pgrep -o -x dockerd) || skip_all "cannot find the dockerd process"
}
hctl() {
	timeout -k 10 "$FC_TIMEOUT" nsenter --mount="/proc/$DOCKERD_PID/ns/mnt" -- \
		"$FC_CTL" --store "$STORE" "$@"
}
hcat() {
	nsenter --mount="/proc/$DOCKERD_PID/ns/mnt" -- cat "$@"
}

# fc_docker_umount_on_exit CELL: CELL's mount at $TEST_TMP/mnt lives in
# dockerd's namespace, out of fc_cleanup's sight: unmount it there at exit,
# then clean up as usual. Call it at the top level, not in a test body.
fc_docker_umount_on_exit() {
	FC_DOCKER_CELL=$1
	trap fc_docker_cleanup EXIT
}
fc_docker_cleanup() {
	local rc=$?
	hctl umount "$FC_DOCKER_CELL" >/dev/null 2>&1 ||
		nsenter --mount="/proc/$DOCKERD_PID/ns/mnt" -- umount -l "$TEST_TMP/mnt" 2>/dev/null
	(exit $rc)
	fc_cleanup
}

# fc_require_binaries: forkcellctl and forkcellfs must be built.
fc_require_binaries() {
	[ -x "$FC_CTL" ] || skip_all "forkcellctl not built in $FORKCELL_BIN"
	[ -x "$FC_FS" ] || skip_all "forkcellfs not built in $FORKCELL_BIN"
}

# fc_helper NAME: path of a built C helper (tests/helpers/NAME.c).
fc_helper() {
	printf '%s\n' "$FC_HELPERS/$1"
}

# ---- mounts and daemons ----------------------------------------------------

# fc_is_mounted PATH: PATH is a mount point in this namespace. (Paths with
# characters that mountinfo escapes are not supported.)
fc_is_mounted() {
	local p
	p=$(realpath -m "$1")
	awk -v t="$p" '$5 == t { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# fc_mount_fstype PATH: the fs type of the mount at PATH (e.g. fuse.forkcellfs).
fc_mount_fstype() {
	local p
	p=$(realpath -m "$1")
	awk -v t="$p" '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
		if ($5 == t) { fs = $(i + 1) } } END { if (fs != "") print fs; else exit 1 }' \
		/proc/self/mountinfo
}

# fc_wait_mounted PATH [SECONDS]
fc_wait_mounted() {
	local i n=$((${2:-30} * 10))
	for ((i = 0; i < n; i++)); do
		fc_is_mounted "$1" && return 0
		sleep 0.1
	done
	fc_fail "$1 did not appear in /proc/self/mountinfo"
}

# fc_wait_unmounted PATH [SECONDS]
fc_wait_unmounted() {
	local i n=$((${2:-30} * 10))
	for ((i = 0; i < n; i++)); do
		fc_is_mounted "$1" || return 0
		sleep 0.1
	done
	fc_fail "$1 is still mounted"
}

# fc_init CELL DIR [ARGS...]: init CELL from DIR (created if missing).
fc_init() {
	local cell=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	ctl init "$cell" --from "$dir" "$@"
}

# fc_daemon_pid CELL [SUFFIX]: the pid from STORE/run/CELL[SUFFIX].json.
fc_daemon_pid() {
	local f=$STORE/run/$1${2:-}.json
	[ -r "$f" ] || return 1
	sed -n 's/.*"pid"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$f"
}

# fc_mnt_pid MNT: the pid of the daemon whose run/*.json names mount point MNT.
fc_mnt_pid() {
	local p f
	p=$(realpath -m "$1")
	for f in "$STORE"/run/*.json; do
		[ -r "$f" ] || continue
		if grep -q "\"mountpoint\"[[:space:]]*:[[:space:]]*\"$p\"" "$f"; then
			sed -n 's/.*"pid"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$f"
			return 0
		fi
	done
	return 1
}

# fc_record_pid PID: remember a daemon to kill at exit.
fc_record_pid() {
	[ -n "$1" ] && echo "$1" >>"$TEST_TMP/.pids"
}

# fc_mount CELL MNT [ARGS...]: forkcellctl mount CELL MNT --log LOG ARGS,
# wait for the mount, record the daemon pid. LOG is
# $TEST_TMP/logs/CELL.<basename MNT>.log (scanned by test_done).
fc_mount() {
	local cell=$1 mnt=$2 pid
	shift 2
	mkdir -p "$mnt"
	ctl mount "$cell" "$mnt" --log "$TEST_TMP/logs/$cell.$(basename "$mnt").log" "$@" ||
		return 1
	fc_wait_mounted "$mnt" || return 1
	pid=$(fc_mnt_pid "$mnt") || true
	[ -n "$pid" ] && fc_record_pid "$pid"
	return 0
}

# fc_mount_fs CELL MNT [OPT,...]: run forkcellfs directly with -o cell=CELL,
# log=$TEST_TMP/logs/CELL.log plus OPTs; wait for the mount.
fc_mount_fs() {
	local cell=$1 mnt=$2 opts=${3:-} pid log
	log=$TEST_TMP/logs/$cell.$(basename "$mnt").log
	mkdir -p "$mnt"
	fc_t 60 "$FC_FS" -o "cell=$cell,log=$log${opts:+,$opts}" "$STORE" "$mnt" || return 1
	fc_wait_mounted "$mnt" || return 1
	pid=$(fc_mnt_pid "$mnt") || true
	[ -n "$pid" ] && fc_record_pid "$pid"
	return 0
}

# fc_wait_pid_gone PID [SECONDS]
fc_wait_pid_gone() {
	local i n=$((${2:-30} * 10))
	for ((i = 0; i < n; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	fc_fail "process $1 is still running"
}

# fc_umount CELL MNT [ARGS...]: forkcellctl umount CELL ARGS; wait until the
# mount is gone and the daemon has exited (so LeakSanitizer could report).
fc_umount() {
	local cell=$1 mnt=$2 pid
	shift 2
	pid=$(fc_mnt_pid "$mnt") || true
	ctl umount "$cell" "$@" || return 1
	fc_wait_unmounted "$mnt" || return 1
	if [ -n "$pid" ]; then
		fc_wait_pid_gone "$pid" || return 1
	fi
}

# fc_kill9 MNT: kill -9 the daemon serving MNT; wait until it is gone.
fc_kill9() {
	local pid
	pid=$(fc_mnt_pid "$1") || true
	[ -n "$pid" ] || {
		fc_fail "no daemon pid for $1 in $STORE/run/*.json"
		return 1
	}
	kill -9 "$pid"
	fc_wait_pid_gone "$pid"
}

# fc_abort_fuse MNT: abort the FUSE connection of MNT (last-resort cleanup).
fc_abort_fuse() {
	local dev
	dev=$(awk -v t="$1" '$5 == t { print $3 }' /proc/self/mountinfo | tail -n 1)
	[ -n "$dev" ] || return 0
	if [ ! -d /sys/fs/fuse/connections/"${dev#*:}" ]; then
		mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
	fi
	{ echo 1 >/sys/fs/fuse/connections/"${dev#*:}"/abort; } 2>/dev/null || true
}

# ---- filesystem helpers ----------------------------------------------------

# fc_treehash [OPTIONS] DIR: canonical listing of a tree (see treehash.py).
fc_treehash() {
	fc_t 300 python3 "$FC_PYHELPERS/treehash.py" "$@"
}

# fc_ext4_dir NAME: print a directory on ext4 (the oracle): below $TEST_TMP
# when that is ext4, else on a loop-mounted ext4 image.
fc_ext4_dir() {
	local d=$TEST_TMP/$1 img
	mkdir -p "$d"
	if [ "$(stat -f -c %T "$d")" = "ext2/ext3" ]; then
		printf '%s\n' "$d"
		return 0
	fi
	img=$TEST_TMP/$1.img
	truncate -s 1G "$img" &&
		mkfs.ext4 -q -F "$img" >/dev/null &&
		mount -o loop "$img" "$d" || return 1
	rmdir "$d/lost+found" 2>/dev/null || true
	printf '%s\n' "$d"
}

# fc_fill_tree DIR: a small tree with every file type and some metadata.
fc_fill_tree() {
	local d=$1
	mkdir -p "$d/sub/deeper" "$d/empty"
	printf 'hello\n' >"$d/hello.txt"
	printf 'nested content\n' >"$d/sub/nested.txt"
	head -c 200000 /dev/urandom >"$d/sub/deeper/random.bin"
	: >"$d/zero"
	printf '#!/bin/sh\necho hi\n' >"$d/run.sh"
	chmod 755 "$d/run.sh"
	chmod 600 "$d/sub/nested.txt"
	ln -s hello.txt "$d/link"
	ln -s /nonexistent/target "$d/dangling"
	ln "$d/hello.txt" "$d/hardlink"
	mkfifo "$d/fifo"
	setfattr -n user.color -v blue "$d/hello.txt"
	touch -d '2001-02-03 04:05:06.123456789' "$d/sub/nested.txt"
}

# ---- setup and teardown ----------------------------------------------------

fc_cleanup() {
	local rc=$? mnt pid
	trap - EXIT TERM INT HUP
	[ -n "${TEST_TMP:-}" ] && [ -d "$TEST_TMP" ] || exit $rc
	# Mounts below TEST_TMP, deepest first.
	for mnt in $(awk -v t="$TEST_TMP/" 'index($5, t) == 1 { print $5 }' \
		/proc/self/mountinfo | sort -r); do
		umount "$mnt" 2>/dev/null || {
			fc_abort_fuse "$mnt"
			umount -l "$mnt" 2>/dev/null
		}
	done
	# Daemons of this test that left no pid behind: their command line
	# names a path below TEST_TMP.
	for pid in $(grep -lsF -- "$TEST_TMP/" /proc/[0-9]*/cmdline | cut -d/ -f3); do
		[ "$pid" != $$ ] || continue
		case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
		*/forkcellfs) echo "$pid" >>"$TEST_TMP/.pids" ;;
		esac
	done
	if [ -f "$TEST_TMP/.pids" ]; then
		for pid in $(sort -u "$TEST_TMP/.pids"); do
			kill -0 "$pid" 2>/dev/null || continue
			kill -TERM "$pid" 2>/dev/null
			fc_wait_pid_gone "$pid" 5 2>/dev/null || kill -9 "$pid" 2>/dev/null
		done
	fi
	if [ "${FORKCELL_TEST_KEEP:-0}" = 1 ]; then
		diag "kept $TEST_TMP"
	else
		rm -rf "$TEST_TMP"
	fi
	exit $rc
}

# fc_scan_logs: the last test; sanitizer reports and ERROR lines fail it.
# FC_LOG_ALLOW: an extended regex of ERROR lines a test expects.
fc_scan_logs() {
	local f bad=0
	for f in "$TEST_TMP"/logs/*; do
		[ -f "$f" ] || continue
		if grep -E 'ERROR|AddressSanitizer|runtime error:|LeakSanitizer' "$f" |
			grep -Ev "${FC_LOG_ALLOW:-^\$}" >"$TEST_TMP/.logscan"; then
			diag "problems in $(basename "$f"):"
			diag "$(head -n 40 "$TEST_TMP/.logscan")"
			bad=1
		fi
	done
	fc_tap_result $bad "daemon logs and sanitizer reports are clean"
}

test_done() {
	fc_scan_logs
	say "1..$test_count"
	if [ "$test_failures" -gt 0 ]; then
		diag "failed $test_failures of $test_count"
		exit 1
	fi
	exit 0
}

# Re-exec as root in a private mount namespace under a watchdog.
if [ -z "${FC_TEST_INNER:-}" ]; then
	[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespaces and FUSE)"
	command -v unshare >/dev/null || skip_all "needs unshare (util-linux)"
	export FC_TEST_INNER=1
	exec timeout -k 15 "${FORKCELL_TEST_TIMEOUT:-900}" \
		unshare -m --propagation private -- "$BASH" "$0" "$@"
fi

TEST_TMP=$(mktemp -d "${FORKCELL_TEST_TMPDIR:-/tmp}/fc-$TEST_NAME.XXXXXX") ||
	skip_all "cannot create a temp dir"
trap fc_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
mkdir -p "$TEST_TMP/logs"
mkdir -p "$TEST_TMP/.when_finished"
STORE=$TEST_TMP/store
export FORKCELL_HOME=$STORE
export HOME=$TEST_TMP/home
mkdir -p "$HOME"
# Sanitizer reports of every forkcell process land in the scanned logs.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:halt_on_error=1:log_path=$TEST_TMP/logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$TEST_TMP/logs/ubsan"
export LSAN_OPTIONS="log_path=$TEST_TMP/logs/lsan"
export LC_ALL=C
export TZ=UTC
# Debian's own tools first (python3 is Debian's, as in CI).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
chmod 0755 "$TEST_TMP"
cd "$TEST_TMP" || exit 1
