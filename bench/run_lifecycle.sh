#!/bin/bash
# bench/run_lifecycle.sh: what `forkcellctl run` adds to a sandboxed command.
# For each runtime, hyperfine times
#   fc      forkcellctl run CELL --runtime R --checkpoint-before --restore-on-fail -- true
#           (checkpoint through the daemon, sandbox, diff, signed receipt;
#           the cell is mounted beforehand, so no run pays for the mount)
#   direct  `true` in the same runtime without forkcellctl
# and reports median and p95 of each and the overhead (fc - direct).
#
#   local      direct = the bwrap command line forkcellctl itself runs (taken
#              from `strace -f -e trace=execve` of one run, minus its status fd),
#              and the simpler `bwrap --ro-bind / / --dev /dev --proc /proc
#              --unshare-all --die-with-parent true`
#   docker     direct = `docker run --rm --network none forkcell-sandbox:latest true`,
#              the same with forkcellctl's container options, and the engine API
#              without the CLI (curl: create, start, wait, delete); skipped when
#              no engine answers
#   openshell  against the fake CLI (tests/fakes/openshell); direct = its
#              sandbox create / exec / delete sequence with forkcellctl's arguments
#
# Environment:
#   FORKCELL_BIN     directory with forkcellctl and forkcellfs (default build/release)
#   BENCH_DIR        scratch directory (default /var/tmp/forkcell-lifecycle); removed at the end
#   BENCH_RUNS       runs per series (default 30; BENCH_QUICK=1: 10)
#   BENCH_RUNTIMES   runtimes to measure (default "local docker openshell")
#   BENCH_CHAIN      also time local runs after this many receipts are in the
#                    store (default 0: skip), since every append re-verifies the chain
# Run as root (FUSE, bubblewrap, docker).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BIN=${FORKCELL_BIN:-$ROOT/build/release}
WORK=${BENCH_DIR:-/var/tmp/forkcell-lifecycle}
RUNS=${BENCH_RUNS:-30}
[ "${BENCH_QUICK:-0}" = 1 ] && RUNS=${BENCH_RUNS:-10}
RUNTIMES=${BENCH_RUNTIMES:-local docker openshell}
CHAIN=${BENCH_CHAIN:-0}
IMAGE=forkcell-sandbox:latest
OSH_IMAGE=img:1

export FORKCELL_HOME=$WORK/store
export PATH=$BIN:$PATH
# The fake OpenShell CLI keeps its state in $HOME/.fake-openshell: a private
# HOME keeps the bench away from the tests' state.
export HOME=$WORK/home

die() { echo "bench/run_lifecycle.sh: $*" >&2; exit 1; }

cleanup() {
	local rc=$? i
	[ "$rc" = 0 ] || tail -n 5 "$WORK/log" >&2 2>/dev/null || true
	for i in 1 2 3 4 5; do
		grep -q " $WORK/store/mnt/c " /proc/self/mounts || break
		forkcellctl umount c >/dev/null 2>&1 || sleep 2
	done
	if grep -q " $WORK/" /proc/self/mounts; then
		echo "bench/run_lifecycle.sh: a mount is left under $WORK; not removing it" >&2
	else
		rm -rf --one-file-system "$WORK"
	fi
}

# stats NAME JSON: "median p95 mean" in ms of a hyperfine export.
stats() {
	"$PY" -c 'import json, sys
t = sorted(json.load(open(sys.argv[1]))["results"][0]["times"])
n = len(t)
med = (t[(n - 1) // 2] + t[n // 2]) / 2
p95 = t[min(n - 1, int(round(0.95 * (n - 1))))]
print("%.1f %.1f %.1f" % (med * 1e3, p95 * 1e3, sum(t) / n * 1e3))' "$1"
}

# series RUNTIME NAME COMMAND...: time COMMAND (no shell), print a row.
series() {
	local rt=$1 name=$2 json=$WORK/$1-$2.json med p95 mean
	shift 2
	hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-json "$json" \
		"$(printf '%q ' "$@")" >/dev/null 2>>"$WORK/log"
	read -r med p95 mean < <(stats "$json")
	printf '%-10s %-14s %9s %9s %9s   load %s\n' "$rt" "$name" "$med" "$p95" "$mean" \
		"$(cut -d' ' -f1 /proc/loadavg)"
	echo "$rt $name $med $p95 $mean" >>"$WORK/results"
}

overhead() {
	local rt=$1 fc=$2 direct=$3
	awk -v rt="$rt" -v a="$fc" -v b="$direct" '
		$1 == rt && $2 == a { am = $3; ap = $4 } $1 == rt && $2 == b { bm = $3; bp = $4 }
		END { printf "%-10s overhead of %s over %s: median %+.1f ms, p95 %+.1f ms\n",
			rt, a, b, am - bm, ap - bp }' "$WORK/results"
}

fc_run() {
	local rt=$1
	shift
	echo forkcellctl run c --runtime "$rt" "$@" --checkpoint-before --restore-on-fail -- true
}

# The bwrap argv forkcellctl ran for one `true`, without --json-status-fd 3
# (hyperfine gives the child no fd 3), one word per line.
local_direct_argv() {
	strace -f -qq -e trace=execve -e signal=none -s 4096 -o "$WORK/strace" \
		$(fc_run local) >/dev/null 2>&1
	cat >"$WORK/argv.py" <<'PYEOF'
import ast, re, sys
for line in open(sys.argv[1]):
    m = re.search(r'execve\("[^"]*", (\[.*?\]), ', line)
    if not m or not line.rstrip().endswith("= 0"):
        continue
    argv = ast.literal_eval(m.group(1))
    if argv[0] == "bwrap" and "--version" not in argv:
        i = argv.index("--json-status-fd")
        del argv[i:i + 2]
        print("\n".join(argv))
        break
PYEOF
	"$PY" "$WORK/argv.py" "$WORK/strace"
}

bench_local() {
	local -a argv
	mapfile -t argv < <(local_direct_argv)
	[ "${#argv[@]}" -gt 3 ] || die "could not capture forkcellctl's bwrap command line"
	series local fc $(fc_run local)
	series local direct-same "${argv[@]}"
	series local direct-simple bwrap --ro-bind / / --dev /dev --proc /proc --unshare-all \
		--die-with-parent true
	series local true-alone true
	overhead local fc direct-same
	overhead local fc direct-simple
}

bench_docker() {
	local mnt
	if ! docker info >/dev/null 2>&1; then
		echo "docker: skipped (no engine)"
		return 0
	fi
	docker image inspect "$IMAGE" >/dev/null 2>&1 ||
		{ echo "docker: skipped (no $IMAGE image: make docker-image)"; return 0; }
	mnt=$(forkcellctl --format json status c |
		"$PY" -c 'import json, sys; print(json.load(sys.stdin)["mount"]["mountpoint"])')
	series docker fc $(fc_run docker)
	series docker direct docker run --rm --network none "$IMAGE" true
	series docker direct-same docker run --rm --network none --ipc private --cap-drop ALL \
		--security-opt no-new-privileges --read-only --tmpfs /tmp:rw,nosuid,nodev,size=256m \
		--init --pids-limit 512 --memory 2g --cpus 1 \
		--mount "type=bind,source=$mnt,target=/workspace" -w /workspace "$IMAGE" true
	# The engine API without the docker CLI (as forkcellctl talks to it):
	# create, start, wait, delete, one curl each.
	cat >"$WORK/docker-api.sh" <<EOF
#!/bin/sh
set -e
api() { curl -sf --unix-socket /var/run/docker.sock -X "\$1" "http://d/v1.41\$2" \\
	-H 'Content-Type: application/json' \${3:+-d "\$3"}; }
id=\$(api POST /containers/create '{"Image":"$IMAGE","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}' |
	sed 's/.*"Id":"\([0-9a-f]*\)".*/\1/')
api POST /containers/\$id/start >/dev/null
api POST /containers/\$id/wait >/dev/null
api DELETE /containers/\$id >/dev/null
EOF
	chmod +x "$WORK/docker-api.sh"
	"$WORK/docker-api.sh" || die "the docker API sequence fails"
	series docker direct-api "$WORK/docker-api.sh"
	overhead docker fc direct
	overhead docker fc direct-same
	overhead docker fc direct-api
	[ -z "$(docker ps -aq --filter label=forkcell.cell=c)" ] ||
		echo "docker: containers left behind by forkcellctl" >&2
}

bench_openshell() {
	local osh=$ROOT/tests/fakes/openshell mnt
	export FORKCELL_OPENSHELL_BIN=$osh
	mkdir -p "$HOME/.fake-openshell"
	printf '[openshell.drivers.docker]\nenable_bind_mounts = true\n' \
		>"$HOME/.fake-openshell/gateway.toml"
	"$osh" settings set --global --key ocsf_json_enabled --value true --yes >/dev/null
	mnt=$(forkcellctl --format json status c |
		"$PY" -c 'import json, sys; print(json.load(sys.stdin)["mount"]["mountpoint"])')
	# The create/exec/delete a user of the CLI would type for `true`, with the
	# driver config forkcellctl passes (the cell's mount at /sandbox/work).
	cat >"$WORK/osh-direct.sh" <<EOF
#!/bin/sh
set -e
n=bench-\$\$
"$osh" sandbox create --name "\$n" --from $OSH_IMAGE --no-auto-providers \\
	--driver-config-json '{"docker":{"mounts":[{"type":"bind","source":"$mnt","target":"/sandbox/work","read_only":false}]}}' \\
	--detach -- sleep infinity >/dev/null
"$osh" sandbox exec -n "\$n" --no-tty --workdir /sandbox/work -- true </dev/null
"$osh" sandbox delete "\$n" >/dev/null
EOF
	chmod +x "$WORK/osh-direct.sh"
	"$WORK/osh-direct.sh" || die "the direct openshell sequence fails"
	series openshell fc $(fc_run openshell --image "$OSH_IMAGE")
	series openshell direct "$WORK/osh-direct.sh"
	series openshell cli-version "$osh" --version
	overhead openshell fc direct
	: >"$HOME/.fake-openshell/calls.log"
	$(fc_run openshell --image "$OSH_IMAGE") >/dev/null 2>&1
	echo "openshell: CLI calls made by one forkcellctl run: $(wc -l <"$HOME/.fake-openshell/calls.log")" \
		"($(cut -d' ' -f2-3 "$HOME/.fake-openshell/calls.log" | tr '\n' ',' | sed 's/,$//'))"
	[ -z "$(ls "$HOME/.fake-openshell/sandboxes" 2>/dev/null)" ] ||
		echo "openshell: sandboxes left behind" >&2
}

# Every append re-reads and re-verifies the whole chain: time local runs
# again after CHAIN more receipts are in the store.
bench_chain() {
	local i have
	have=$(forkcellctl --format json receipt verify | "$PY" -c 'import json, sys
print(json.load(sys.stdin)["records"])')
	for ((i = have; i < CHAIN; i += 2)); do
		forkcellctl run c --accept-on-success -- true >/dev/null 2>>"$WORK/log" ||
			die "run $i of the chain series failed"
	done
	have=$(forkcellctl --format json receipt verify | "$PY" -c 'import json, sys
print(json.load(sys.stdin)["records"])')
	series local "fc@chain$have" $(fc_run local)
}

main() {
	local rt
	[ "$(id -u)" = 0 ] || die "must run as root"
	[ -x "$BIN/forkcellctl" ] || die "no forkcellctl in $BIN (make first)"
	command -v hyperfine >/dev/null || die "needs hyperfine"
	command -v strace >/dev/null || die "needs strace"
	PY=/usr/bin/python3
	[ -x "$PY" ] || PY=$(command -v python3) || die "needs python3"
	rm -rf "$WORK"
	mkdir -p "$WORK/src" "$HOME"
	# A private copy of the binaries: a rebuild during the run cannot disturb it.
	mkdir -p "$WORK/bin"
	cp "$BIN/forkcellctl" "$BIN/forkcellfs" "$WORK/bin/"
	export PATH=$WORK/bin:$PATH
	trap cleanup EXIT
	for i in $(seq 1 100); do echo "file $i" >"$WORK/src/f$i"; done
	forkcellctl init c --from "$WORK/src" >/dev/null
	forkcellctl run c -- true >/dev/null 2>&1 # mounts the cell: not measured
	echo "# run lifecycle, $RUNS runs per series (+3 warm-up); $(nproc) cpus;" \
		"load $(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-10s %-14s %9s %9s %9s\n' runtime series median_ms p95_ms mean_ms
	for rt in $RUNTIMES; do
		"bench_$rt"
	done
	[ "$CHAIN" -gt 0 ] && bench_chain
	forkcellctl receipt verify >&2
}

main "$@"
