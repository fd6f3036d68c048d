#!/bin/bash
# bench/ckpt.sh: checkpoint, restore and fork latency of forkcellfs cells of
# 1k, 10k, 100k and 1M files, on the unmounted path (forkcellctl working on
# LMDB directly) and on the mounted path (through the daemon's control
# socket), plus the restore-then-`ls -lR` check. Run by bench/run.sh (as
# root); can be run alone.
#
# Environment:
#   FORKCELL_BIN      directory with forkcellfs and forkcellctl (default build/release)
#   BENCH_DIR         scratch directory (default /var/tmp/forkcell-ckpt); removed at the end
#   BENCH_MAX_FILES   largest workspace (default 1000000)
#   BENCH_QUICK=1     1k and 10k files only, 50 runs each
#   BENCH_RUNS        measured runs per series (default 200)
#   BENCH_LS_FILES    workspace size of the restore-then-ls check (default 10000)
#   BENCH_PAUSE_MS    pause after each run of the socket-spaced series (default 50)
#   BENCH_TIMEOUT     seconds allowed for one step (default 1800)
#   BENCH_TSV         append machine-readable results to this file
#                     (default bench/results/<UTC date>-ckpt.tsv)
#
# Series, each `lat -n RUNS -w 5` (bench/lat.c: CLOCK_MONOTONIC around each
# run; median, p95, min, max, mean):
#   cli-unmounted  forkcellctl checkpoint|restore|fork, cell not mounted:
#                  process start, store open, one LMDB write txn, exit
#   cli-mounted    the same commands while the cell is mounted: forkcellctl
#                  finds the daemon and sends the request over the socket
#                  (checkpoint also calls syncfs on the mount first)
#   socket         one JSON request over the control socket, no process
#                  start: the switch inside the daemon plus one round trip;
#                  back to back, so each request overlaps the flusher
#                  thread's fsync of the switch before it
#   socket-spaced  the same with a pause of BENCH_PAUSE_MS (default 50)
#                  after each request, outside the timed region: a switch
#                  standing alone, as an agent's one checkpoint per command
#   cli-noop       `forkcellctl status CELL`: process start and store open
#                  alone, to read the cli-* numbers against
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

if [ -z "${FC_BENCH_CKPT_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "bench/ckpt.sh: must run as root" >&2
		exit 1
	fi
	export FC_BENCH_CKPT_NS=1
	renice -n -10 $$ > /dev/null 2>&1 || true
	ionice -c 2 -n 0 -p $$ > /dev/null 2>&1 || true
	exec unshare -m --propagation private "$0" "$@"
fi

BIN_SRC=${FORKCELL_BIN:-$ROOT/build/release}
WORK=${BENCH_DIR:-/var/tmp/forkcell-ckpt}
MAXF=${BENCH_MAX_FILES:-1000000}
RUNS=${BENCH_RUNS:-200}
LSF=${BENCH_LS_FILES:-10000}
T=${BENCH_TIMEOUT:-1800}
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
TSV=${BENCH_TSV:-$HERE/results/$STAMP-ckpt.tsv}
STORE=$WORK/s
MNT=$WORK/m
TOOLS=${BENCH_TOOLS:-$WORK/tools}
BIN=$WORK/bin   # a private copy: a rebuild during the run cannot disturb it
SIZES="1000 10000 100000 1000000"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	SIZES="1000 10000"
	RUNS=${BENCH_RUNS:-50}
fi

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench/ckpt.sh: %s\n' "$*" >&2; exit 1; }
tm() { timeout -k 10 "$T" "$@"; }
fc() { tm "$BIN/forkcellctl" --store "$STORE" "$@"; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }

cleanup() {
	local rc=$? m
	set +e
	for m in $(awk -v w="$WORK" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo |
		   sort -r); do
		timeout 30 fusermount3 -u -z "$m" 2>/dev/null || timeout 30 umount -l "$m"
	done
	[ -z "${BENCH_KEEP:-}" ] && rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# record SIZE PATH OP "lat output line" [KIND]
record() {
	local size=$1 path=$2 op=$3 line=$4 kind=${5:-e2e}
	printf '%s\tckpt\t%s\t%s\t%s\t%s\t%s\n' "$STAMP" "$size" "$path" "$op" "$kind" \
		"$(echo "$line" | tr ' ' '\t')" >> "$TSV"
	printf '%-9s %-14s %-11s %-8s %s\n' "$size" "$path" "$op" "$kind" "$line"
}

# series SIZE PATH OP -- lat arguments
series() {
	local size=$1 path=$2 op=$3 out line
	shift 4
	out=$(tm "$TOOLS/lat" -n "$RUNS" -w 5 "$@") || die "$size $path $op failed"
	record "$size" "$path" "$op" "$(echo "$out" | grep -v '^key ')"
	line=$(echo "$out" | sed -n 's/^key //p')
	[ -n "$line" ] && record "$size" "$path" "$op" "$line" internal
	return 0
}

bench_size() {
	local n=$1 cell=c$1 t0 t1 kopt
	local sock=$STORE/run/$cell.sock
	log "generating a tree of $n files"
	t0=$(now)
	tm "$TOOLS/gen_tree" "$WORK/tree-$n" "$n" 1000 8
	t1=$(now)
	record "$n" setup gen_tree "seconds=$(elapsed "$t0" "$t1")" once
	sync
	t0=$(now)
	fc init "$cell" --from "$WORK/tree-$n" > /dev/null
	t1=$(now)
	record "$n" setup init "seconds=$(elapsed "$t0" "$t1")" once
	# If forkcellctl --format json reports "duration_ms" (the operation
	# inside the process, without start-up), lat collects it as "internal".
	kopt=(-k duration_ms -m 1000)
	local F=(--store "$STORE" --format json)

	series "$n" cli-noop status -- "$BIN/forkcellctl" "${F[@]}" status "$cell"
	series "$n" cli-unmounted checkpoint -- "${kopt[@]}" "$BIN/forkcellctl" "${F[@]}" \
		checkpoint "$cell"
	series "$n" cli-unmounted restore -- "${kopt[@]}" "$BIN/forkcellctl" "${F[@]}" \
		restore "$cell"
	series "$n" cli-unmounted fork -- "${kopt[@]}" "$BIN/forkcellctl" "${F[@]}" \
		fork "$cell" "u$n-{i}" --from base

	fc mount "$cell" "$MNT" > /dev/null
	mountpoint -q "$MNT" || die "$cell: not mounted at $MNT"
	series "$n" cli-mounted checkpoint -- "${kopt[@]}" "$BIN/forkcellctl" "${F[@]}" \
		checkpoint "$cell"
	series "$n" cli-mounted restore -- "${kopt[@]}" "$BIN/forkcellctl" "${F[@]}" \
		restore "$cell"
	series "$n" cli-mounted fork -- "${kopt[@]}" "$BIN/forkcellctl" "${F[@]}" \
		fork "$cell" "m$n-{i}" --from base
	series "$n" socket checkpoint -- -s "$sock" -r '{"op":"checkpoint","name":null}'
	series "$n" socket restore -- -s "$sock" -r '{"op":"restore","checkpoint":null}'
	series "$n" socket fork -- -s "$sock" \
		-r '{"op":"fork","checkpoint":"base","newcell":"s'"$n"'-{i}"}'
	local pause=(-p "${BENCH_PAUSE_MS:-50}")
	series "$n" socket-spaced checkpoint -- "${pause[@]}" -s "$sock" \
		-r '{"op":"checkpoint","name":null}'
	series "$n" socket-spaced restore -- "${pause[@]}" -s "$sock" \
		-r '{"op":"restore","checkpoint":null}'
	series "$n" socket-spaced fork -- "${pause[@]}" -s "$sock" \
		-r '{"op":"fork","checkpoint":"base","newcell":"p'"$n"'-{i}"}'
	# The tree must still be the generated one after all these switches.
	local got
	got=$(find "$MNT" -type f | wc -l)
	[ "$got" = "$n" ] || die "$cell: $got files visible after the series, expected $n"
	fc umount "$cell" > /dev/null
	rm -rf "$WORK/tree-$n"
	# Each size gets a fresh store, so that sizes do not share history.
	rm -rf "$STORE"
}

# Restore on a live mount, then `ls -lR`: correct, and no slower than a cold
# mount. Reps of: mutate, warm the caches on the mutated tree, restore, time ls.
bench_restore_ls() {
	local n=$LSF cell=ls reps=5 r t0 t1
	tm "$TOOLS/gen_tree" "$WORK/tree-ls" "$n" 1000 8
	fc init "$cell" --from "$WORK/tree-ls" > /dev/null
	fc mount "$cell" "$MNT" > /dev/null
	(cd "$MNT" && tm ls -lR) > "$WORK/expect.ls"
	(cd "$MNT" && tm tar -cf - . | md5sum) > "$WORK/expect.md5"
	# Compare against the ext4 tree too: names, sizes and modes.
	diff <(cd "$WORK/tree-ls" && find . -printf '%P %y %m\n' | sort) \
		<(cd "$MNT" && find . -printf '%P %y %m\n' | sort) > /dev/null ||
		die "mount differs from the source tree"
	diff <(cd "$WORK/tree-ls" && find . -type f -printf '%P %s\n' | sort) \
		<(cd "$MNT" && find . -type f -printf '%P %s\n' | sort) > /dev/null ||
		die "mount file sizes differ from the source tree"
	fc checkpoint "$cell" --name c0 > /dev/null
	for r in $(seq 1 $reps); do
		# Mutate: append to 100 files, delete a directory, add one, chmod.
		for f in "$MNT"/d000001/f0000010{0..9}{0..9}; do echo more >> "$f"; done
		rm -rf "$MNT/d000002"
		tm "$TOOLS/gen_tree" "$MNT/new$r" 100 100 8
		chmod 600 "$MNT"/d000000/f0000000{0..9}{0..9}
		(cd "$MNT" && tm ls -lR) > /dev/null
		fc restore "$cell" c0 > /dev/null
		t0=$(now)
		(cd "$MNT" && tm ls -lR) > "$WORK/got.ls"
		t1=$(now)
		printf '%s\tls\t%s\trestore-then-ls\t%s\t%s\n' "$STAMP" "$n" "$r" \
			"$(elapsed "$t0" "$t1")" >> "$TSV"
		cmp -s "$WORK/expect.ls" "$WORK/got.ls" ||
			die "ls -lR after restore differs from the checkpoint (rep $r)"
		(cd "$MNT" && tm tar -cf - . | md5sum) | cmp -s - "$WORK/expect.md5" ||
			die "tree content after restore differs from the checkpoint (rep $r)"
	done
	for r in $(seq 1 $reps); do
		fc umount "$cell" > /dev/null
		sync
		echo 3 > /proc/sys/vm/drop_caches
		fc mount "$cell" "$MNT" > /dev/null
		t0=$(now)
		(cd "$MNT" && tm ls -lR) > "$WORK/got.ls"
		t1=$(now)
		printf '%s\tls\t%s\tcold-mount-ls\t%s\t%s\n' "$STAMP" "$n" "$r" \
			"$(elapsed "$t0" "$t1")" >> "$TSV"
		cmp -s "$WORK/expect.ls" "$WORK/got.ls" ||
			die "ls -lR after a cold mount differs from the checkpoint (rep $r)"
		fc umount "$cell" > /dev/null
		fc mount "$cell" "$MNT" > /dev/null
		t0=$(now)
		(cd "$MNT" && tm ls -lR) > /dev/null
		t1=$(now)
		printf '%s\tls\t%s\tremount-ls\t%s\t%s\n' "$STAMP" "$n" "$r" \
			"$(elapsed "$t0" "$t1")" >> "$TSV"
	done
	fc umount "$cell" > /dev/null
	echo "# restore-then-ls -lR ($n files, $reps reps; output identical to the checkpoint's):"
	awk -F'\t' '$2 == "ls" { k = $4; s[k] = s[k] " " $6; c[k]++ }
		END { for (k in s) { m = split(substr(s[k], 2), a, " ");
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
				if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			printf "#   %-16s median %.4fs (min %.4fs, max %.4fs)\n", k,
				a[int((m + 1) / 2)], a[1], a[m] } }' "$TSV"
	rm -rf "$STORE" "$WORK/tree-ls"
}

main() {
	local n
	[ -x "$BIN_SRC/forkcellctl" ] && [ -x "$BIN_SRC/forkcellfs" ] ||
		die "no binaries in $BIN_SRC"
	rm -rf "$WORK"
	mkdir -p "$WORK" "$MNT" "$BIN" "$(dirname "$TSV")"
	cp "$BIN_SRC/forkcellctl" "$BIN_SRC/forkcellfs" "$BIN/"
	if [ -z "${BENCH_TOOLS:-}" ]; then
		mkdir -p "$TOOLS"
		for n in gen_tree lat; do
			tm cc -O2 -o "$TOOLS/$n" "$HERE/$n.c"
		done
	fi
	echo "# checkpoint/restore/fork latency, $RUNS runs per series (+5 warm-up), microseconds"
	printf '%-9s %-14s %-11s %-8s %s\n' files path op kind statistics
	for n in $SIZES; do
		[ "$n" -le "$MAXF" ] || continue
		bench_size "$n"
	done
	bench_restore_ls
	echo "# raw data: $TSV"
}

main "$@"
exit
