#!/bin/bash
# forkcell-init, the sandbox's first process under a policy, and the runtime
# plumbing around it. First init alone (run directly, the gate released by
# writing its FIFO): Landlock (a write outside --rw fails with EACCES, a --ro
# path is readable but not writable, hard_requirement vs best_effort for a
# missing path), seccomp (unshare -U, mount, ptrace attach, memfd_create get
# EPERM; unshare -U works with --no-seccomp), the uid/gid, no capabilities,
# no_new_privs, the gate (never released or closed without "go": the
# command never runs), the status line and the exit codes. Then the local
# and docker runtimes through tests/helpers/sandbox_drive: init bound in,
# the ready callback gets the sandbox's pid before the command runs (a
# listener it starts in the sandbox's network namespace is reachable on
# 127.0.0.1), a failing ready kills the sandbox, the status line comes back.
. "$(dirname "$0")/lib.sh"

fc_require_cmd bwrap python3 unshare nsenter busybox
INIT=$FORKCELL_BIN/forkcell-init
DRIVE=$(fc_helper sandbox_drive)
[ -x "$INIT" ] || skip_all "forkcell-init not built in $FORKCELL_BIN"
[ -x "$DRIVE" ] || skip_all "sandbox_drive not built in $FORKCELL_BIN"
# landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION): the ABI, or -1.
LL_ABI=$(python3 -c 'import ctypes; print(ctypes.CDLL(None).syscall(444, None, 0, 1))')
[ "$LL_ABI" -ge 1 ] 2>/dev/null || skip_all "the kernel does not offer Landlock"
IMAGE=${FORKCELL_IMAGE:-forkcell-sandbox:latest}

# The system, read-only, so that sh, python3 and coreutils run under Landlock.
SYS_RO="--ro /usr --ro /bin --ro /lib --ro /lib64 --ro /sbin --ro /etc --ro /proc"

# json_get FILE EXPR: python expression on the JSON object `r` in FILE.
json_get() {
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}

# errno_of_write PATH: the errno of opening PATH for writing (0: it worked).
ERRNO_OF_WRITE='import sys
try:
    open(sys.argv[1], "w").close()
    print(0)
except OSError as e:
    print(e.errno)'

# gated OUT INIT_ARGS... -- CMD: run forkcell-init with a gate and a status
# FIFO, release the gate, collect OUT.status, OUT.out, OUT.err and OUT.rc.
gated() {
	local out=$1 g rc=0 cat_pid init_pid
	shift
	g=$(mktemp -d "$TEST_TMP/gate.XXXXXX")
	mkfifo "$g/gate" "$g/status"
	fc_t 30 cat "$g/status" >"$out.status" &
	cat_pid=$!
	fc_t 30 "$INIT" --gate "$g/gate" --status "$g/status" "$@" >"$out.out" 2>"$out.err" &
	init_pid=$!
	fc_t 10 sh -c 'echo go >"$1"' _ "$g/gate"
	wait "$init_pid" || rc=$?
	wait "$cat_pid" || true
	echo "$rc" >"$out.rc"
}

test_expect_success 'set up: directories only Landlock can protect (world-writable)' '
	mkdir -p ll/rw ll/ro ll/out &&
	chmod 0777 ll/rw ll/ro ll/out &&
	echo secret >ll/ro/f && chmod 0666 ll/ro/f &&
	"$INIT" --help >help.txt &&
	test_grep -- "--landlock best_effort|hard_requirement" help.txt &&
	test_grep "/dev/null" help.txt
'

test_expect_success 'Landlock: a write outside --rw fails with EACCES, inside it works' '
	fc_t 30 "$INIT" $SYS_RO --rw "$TEST_TMP/ll/rw" --uid 1000 --gid 1000 -- \
		python3 -c "$ERRNO_OF_WRITE" "$TEST_TMP/ll/out/x" >out.txt &&
	test_cmp_str 13 "$(cat out.txt)" &&
	test_path_is_missing ll/out/x &&
	fc_t 30 "$INIT" $SYS_RO --rw "$TEST_TMP/ll/rw" --uid 1000 --gid 1000 -- \
		python3 -c "$ERRNO_OF_WRITE" "$TEST_TMP/ll/rw/x" >in.txt &&
	test_cmp_str 0 "$(cat in.txt)" &&
	test_path_is_file ll/rw/x &&
	fc_t 30 "$INIT" $SYS_RO --rw "$TEST_TMP/ll/rw" -- sh -c "echo >/dev/null && mkdir \"$TEST_TMP/ll/rw/d\" && mv \"$TEST_TMP/ll/rw/x\" \"$TEST_TMP/ll/rw/d/\"" &&
	test_path_is_file ll/rw/d/x
'

test_expect_success 'without Landlock the same write works (the denial was Landlock)' '
	fc_t 30 "$INIT" --uid 1000 --gid 1000 -- \
		python3 -c "$ERRNO_OF_WRITE" "$TEST_TMP/ll/out/ctl" >ctl.txt &&
	test_cmp_str 0 "$(cat ctl.txt)"
'

test_expect_success 'Landlock: a --ro path is readable but not writable, even by root' '
	fc_t 30 "$INIT" $SYS_RO --ro "$TEST_TMP/ll/ro" -- cat "$TEST_TMP/ll/ro/f" >ro.txt
	test_cmp_str secret "$(cat ro.txt)"
	fc_t 30 "$INIT" $SYS_RO --ro "$TEST_TMP/ll/ro" -- \
		python3 -c "$ERRNO_OF_WRITE" "$TEST_TMP/ll/ro/f" >rw.txt
	test_cmp_str 13 "$(cat rw.txt)"
	rc=0
	fc_t 30 "$INIT" $SYS_RO --ro "$TEST_TMP/ll/ro" -- rm -f "$TEST_TMP/ll/ro/f" || rc=$?
	test "$rc" -ne 0
	test_cmp_str secret "$(cat ll/ro/f)"
'

test_expect_success 'hard_requirement: a missing path fails with 125 and says which' '
	gated hard --landlock hard_requirement $SYS_RO --rw /nonexistent/forkcell -- \
		touch "$TEST_TMP/hard-ran" &&
	test_cmp_int 125 "$(cat hard.rc)" &&
	test_path_is_missing hard-ran &&
	test_grep "forkcell-init: .*hard_requirement.*/nonexistent/forkcell" hard.err &&
	test_grep "No such file" hard.err &&
	json_get hard.status "r[\"error\"]" | grep -q "/nonexistent/forkcell" &&
	test_cmp_str 1 "$(json_get hard.status "r[\"init\"]")"
'

test_expect_success 'best_effort: a missing path is skipped and reported' '
	gated be --landlock best_effort $SYS_RO --rw "$TEST_TMP/ll/rw" --ro /nonexistent/forkcell -- \
		sh -c "echo ran >\"$TEST_TMP/ll/rw/be\"" &&
	test_cmp_int 0 "$(cat be.rc)" &&
	test_cmp_str ran "$(cat ll/rw/be)" &&
	test_cmp_str "[\"/nonexistent/forkcell\"]" "$(json_get be.status "json.dumps(r[\"landlock\"][\"skipped\"])")" &&
	test_cmp_str enforced "$(json_get be.status "r[\"landlock\"][\"status\"]")"
'

test_expect_success 'seccomp: unshare -U is refused (EPERM); without the filter it works' '
	rc=0 &&
	fc_t 30 "$INIT" -- unshare -U true 2>err.txt || rc=$? &&
	test "$rc" -ne 0 &&
	test_grep "Operation not permitted" err.txt &&
	fc_t 30 "$INIT" --no-seccomp -- unshare -U true
'

test_expect_success 'seccomp: mount, ptrace attach and memfd_create get EPERM' '
	mkdir -p mnt-target
	rc=0
	fc_t 30 "$INIT" -- mount -t tmpfs none "$TEST_TMP/mnt-target" 2>mount.err || rc=$?
	test "$rc" -ne 0
	if fc_is_mounted "$TEST_TMP/mnt-target"; then fc_fail "mount worked"; fi
	sleep 60 &
	victim=$!
	test_when_finished "kill $victim"
	fc_t 30 "$INIT" -- python3 -c "
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
r = libc.ptrace(16, int(sys.argv[1]), 0, 0)  # PTRACE_ATTACH
print(r, ctypes.get_errno())
try:
    os.memfd_create(\"x\")
    print(\"memfd ok\")
except OSError as e:
    print(\"memfd\", e.errno)
" "$victim" >trace.txt
	test_cmp_str "-1 1" "$(sed -n 1p trace.txt)"
	test_cmp_str "memfd 1" "$(sed -n 2p trace.txt)"
'

# What each probe got: 0 or the errno.
SYSCALL_PROBES='import ctypes, errno, socket
libc = ctypes.CDLL(None, use_errno=True)
def res(r):
    return 0 if r >= 0 else ctypes.get_errno()
def sock(proto):
    try:
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto).close()
        return 0
    except OSError as e:
        return e.errno
# clone3(NULL, 0): ENOSYS from the filter (EFAULT/EINVAL from the kernel).
print("clone3", res(libc.syscall(435, None, 0)))
print("netlink_route", sock(0))
print("netlink_audit", sock(9))
print("keyctl", res(libc.syscall(250, 0, 0, 0, 0, 0)))'

test_expect_success 'seccomp: clone3 is ENOSYS, netlink only for routing, keyrings EPERM' '
	fc_t 30 "$INIT" -- python3 -c "$SYSCALL_PROBES" >sc.txt
	printf "clone3 38\nnetlink_route 0\nnetlink_audit 1\nkeyctl 1\n" >sc.expect
	test_cmp sc.expect sc.txt
	fc_t 30 "$INIT" --no-seccomp -- python3 -c "$SYSCALL_PROBES" >nosc.txt
	test_grep "^netlink_audit 0$" nosc.txt
	test_grep -v "^clone3 38$" nosc.txt
'

test_expect_success 'uid and gid applied, no groups, no capabilities, no_new_privs' '
	fc_t 30 "$INIT" --uid 1000 --gid 1001 -- sh -c "id -u; id -g; id -G; grep -E \"^(Cap|NoNewPrivs)\" /proc/self/status" >ids.txt &&
	test_cmp_str 1000 "$(sed -n 1p ids.txt)" &&
	test_cmp_str 1001 "$(sed -n 2p ids.txt)" &&
	test_cmp_str 1001 "$(sed -n 3p ids.txt)" &&
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		test_grep "^$c:[[:space:]]*0000000000000000$" ids.txt || exit 1
	done &&
	test_grep "^NoNewPrivs:[[:space:]]*1$" ids.txt &&
	fc_t 30 "$INIT" -- grep -E "^Cap(Eff|Bnd)" /proc/self/status >root.txt &&
	test_grep "^CapEff:[[:space:]]*0000000000000000$" root.txt &&
	test_grep "^CapBnd:[[:space:]]*0000000000000000$" root.txt
'

test_expect_success 'gate never released: the command does not run' '
	mkdir -p g1
	mkfifo g1/gate g1/status
	fc_t 30 "$INIT" --gate "$TEST_TMP/g1/gate" --status "$TEST_TMP/g1/status" -- \
		touch "$TEST_TMP/g1-ran" 2>g1.err &
	pid=$!
	test_when_finished "kill $pid 2>/dev/null || true"
	sleep 2
	kill -0 "$pid"
	test_path_is_missing g1-ran
'

test_expect_success 'gate closed without "go", or with another word: 125, nothing runs' '
	mkdir -p g2
	mkfifo g2/gate
	fc_t 30 "$INIT" --gate "$TEST_TMP/g2/gate" -- touch "$TEST_TMP/g2-ran" 2>g2.err &
	pid=$!
	fc_t 10 sh -c ": >\"\$1\"" _ "$TEST_TMP/g2/gate"
	rc=0
	wait "$pid" || rc=$?
	test_cmp_int 125 "$rc"
	test_grep "closed without a go" g2.err
	fc_t 30 "$INIT" --gate "$TEST_TMP/g2/gate" -- touch "$TEST_TMP/g2-ran" 2>g3.err &
	pid=$!
	fc_t 10 sh -c "echo stop >\"\$1\"" _ "$TEST_TMP/g2/gate"
	rc=0
	wait "$pid" || rc=$?
	test_cmp_int 125 "$rc"
	test_path_is_missing g2-ran
'

test_expect_success 'the status line says what was enforced' '
	gated st $SYS_RO --rw "$TEST_TMP/ll/rw" --uid 1000 --gid 1000 -- true &&
	test_cmp_int 0 "$(cat st.rc)" &&
	test_cmp_int 1 "$(wc -l <st.status)" &&
	test_cmp_str 1 "$(json_get st.status "r[\"init\"]")" &&
	test_cmp_str enforced "$(json_get st.status "r[\"landlock\"][\"status\"]")" &&
	abi=$(json_get st.status "r[\"landlock\"][\"abi\"]") && test "$abi" -ge 1 &&
	test_cmp_str 1 "$(json_get st.status "r[\"landlock\"][\"rw\"]")" &&
	test_cmp_str True "$(json_get st.status "r[\"landlock\"][\"ro\"] >= 3")" &&
	test_cmp_str True "$(json_get st.status "r[\"landlock\"][\"implicit\"] >= 3")" &&
	test_cmp_str enforced "$(json_get st.status "r[\"seccomp\"]")" &&
	test_cmp_str 1000 "$(json_get st.status "r[\"uid\"]")" &&
	test_cmp_str 1000 "$(json_get st.status "r[\"gid\"]")" &&
	test_cmp_str True "$(json_get st.status "r[\"no_new_privs\"]")" &&
	test_cmp_str dropped "$(json_get st.status "r[\"caps\"]")" &&
	test_cmp_str "$([ "$abi" -ge 6 ] && echo True || echo False)" \
		"$(json_get st.status "r[\"landlock\"][\"scoped\"]")" &&
	gated st2 --no-seccomp -- true &&
	test_cmp_str disabled "$(json_get st2.status "r[\"seccomp\"]")" &&
	test_cmp_str not_requested "$(json_get st2.status "r[\"landlock\"][\"status\"]")"
'

test_expect_success 'exit codes: 127 not found, 126 not executable or denied by Landlock' '
	printf "data\n" >noexec && chmod 0644 noexec
	rc=0
	"$INIT" -- /nonexistent/cmd 2>e1 || rc=$?
	test_cmp_int 127 "$rc"
	test_grep "forkcell-init: cannot execute" e1
	rc=0
	"$INIT" -- "$TEST_TMP/noexec" 2>e2 || rc=$?
	test_cmp_int 126 "$rc"
	rc=0
	"$INIT" --ro /etc -- /usr/bin/true 2>e3 || rc=$?
	test_cmp_int 126 "$rc"
	test_grep "Permission denied" e3
	rc=0
	"$INIT" --uid nobody -- true 2>e4 || rc=$?
	test_cmp_int 125 "$rc"
	test_grep "forkcell-init: --uid wants a number" e4
'

# ---- the runtimes ------------------------------------------------------------

# A listener for the sandbox's loopback, started by the ready callback inside
# the sandbox's network namespace (as the egress proxy will be): it says
# "hello" to the first connection on 127.0.0.1:3128.
cat >"$TEST_TMP/listen.py" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 3128))
s.listen(1)
open(sys.argv[1], "w").write("listening\n")
s.settimeout(30)
c, _ = s.accept()
c.sendall(b"hello\n")
c.close()
EOF
READY_CMD='set -e
ready=$TEST_TMP/listen.$RT
readlink /proc/$SANDBOX_PID/ns/net >"$TEST_TMP/ready.$RT.netns"
nsenter --net=/proc/$SANDBOX_PID/ns/net python3 "$TEST_TMP/listen.py" "$ready" </dev/null \
	>/dev/null 2>"$TEST_TMP/listen.$RT.err" &
for i in $(seq 300); do [ -e "$ready" ] && exit 0; sleep 0.1; done
echo "no listener" >&2
exit 1'

mkdir -p "$TEST_TMP/ws" "$TEST_TMP/gd"
chmod 0777 "$TEST_TMP/ws"
mkfifo "$TEST_TMP/gd/gate" "$TEST_TMP/gd/status"
printf 'TEST CA BUNDLE\n' >"$TEST_TMP/gd/ca-bundle.pem"

# drive RT RESULT [OPTS...] -- CMD: sandbox_drive with init and the gate.
drive() {
	local rt=$1 res=$2
	shift 2
	TEST_TMP=$TEST_TMP RT=$rt fc_t 120 "$DRIVE" --runtime "$rt" --image "$IMAGE" \
		--result "$res" --cell t1500 \
		--mount "$TEST_TMP/ws" --run-id "t1500-$rt-$$-$RANDOM" --init "$INIT" \
		--gate-dir "$TEST_TMP/gd" --ca-bundle "$TEST_TMP/gd/ca-bundle.pem" "$@"
}

res_get() {
	sed -n "s/^$2=//p" "$1"
}

# runtime_tests RT SHELL_NC: the same checks on the local and docker runtimes.
runtime_tests() {
	local rt=$1 nc=$2
	test_expect_success "$rt: init runs the command after ready; Landlock, ids, CA, loopback" '
		drive '"$rt"' res.'"$rt"' --network --ready-cmd "$READY_CMD" \
			--init-arg --ro --init-arg / --init-arg --rw --init-arg /workspace \
			--init-arg --uid --init-arg 1000 --init-arg --gid --init-arg 1000 \
			-- sh -c "id -u; echo in >/workspace/in.'"$rt"'; echo x >/tmp/out 2>/dev/null || echo denied;
				cat /etc/ssl/certs/ca-certificates.crt /run/forkcell/ca-bundle.pem;
				'"$nc"'" >out.'"$rt"' &&
		test_cmp_str 0 "$(res_get res.'"$rt"' rc)" &&
		test_cmp_str 0 "$(res_get res.'"$rt"' status)" &&
		res_get res.'"$rt"' init_status >init.'"$rt"'.json &&
		test_cmp_str enforced "$(json_get init.'"$rt"'.json "r[\"landlock\"][\"status\"]")" &&
		test_cmp_str enforced "$(json_get init.'"$rt"'.json "r[\"seccomp\"]")" &&
		test_cmp_str 1000 "$(json_get init.'"$rt"'.json "r[\"uid\"]")" &&
		printf "1000\ndenied\nTEST CA BUNDLE\nTEST CA BUNDLE\nhello\n" >expect.'"$rt"' &&
		test_cmp expect.'"$rt"' out.'"$rt"' &&
		test_cmp_str in "$(cat ws/in.'"$rt"')" &&
		test "$(cat ready.'"$rt"'.netns)" != "$(readlink /proc/self/ns/net)"
	'
	test_expect_success "$rt: a failing ready kills the sandbox before the command" '
		rc=0 &&
		drive '"$rt"' res2.'"$rt"' --ready-cmd "exit 3" -- touch /workspace/ran.'"$rt"' || rc=$? &&
		test_cmp_int 1 "$rc" &&
		res_get res2.'"$rt"' error | grep -q "ready command failed" &&
		test_path_is_missing ws/ran.'"$rt"'
	'
	test_expect_success "$rt: init setup errors come back in the status line (125)" '
		drive '"$rt"' res3.'"$rt"' --init-arg --landlock --init-arg hard_requirement \
			--init-arg --ro --init-arg /nonexistent/x -- touch /workspace/ran3.'"$rt"' &&
		test_cmp_str 125 "$(res_get res3.'"$rt"' status)" &&
		res_get res3.'"$rt"' init_status >init3.'"$rt"'.json &&
		json_get init3.'"$rt"'.json "r[\"error\"]" | grep -q "/nonexistent/x" &&
		test_path_is_missing ws/ran3.'"$rt"'
	'
}

runtime_tests local 'busybox nc 127.0.0.1 3128 </dev/null'

test_expect_success 'local: without init_path the runtime is unchanged (no status, no init)' '
	fc_t 60 "$DRIVE" --runtime local --result res0 --cell t1500 --mount "$TEST_TMP/ws" \
		--run-id t1500-plain -- sh -c "test ! -e /run/forkcell-init && grep CapEff /proc/self/status" >plain.out &&
	test_cmp_str 0 "$(res_get res0 status)" &&
	test_cmp_str "" "$(res_get res0 init_status)" &&
	test_grep "CapEff:[[:space:]]*0000000000000000" plain.out
'

if ! fc_t 30 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
	test_skip "docker runtime with forkcell-init" "no docker engine answers (scripts/start-dockerd.sh)"
elif ! fc_t 30 docker image inspect "$IMAGE" >/dev/null 2>&1; then
	test_skip "docker runtime with forkcell-init" "no image $IMAGE (make docker-image)"
else
	runtime_tests docker 'nc 127.0.0.1 3128 </dev/null'
	test_expect_success 'docker: no container is left behind' '
		left=$(docker ps -aq --filter label=forkcell.cell=t1500) &&
		test -z "$left"
	'
fi

test_done
