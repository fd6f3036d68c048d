#!/bin/bash
# bench/run.sh: file-system workloads on native ext4, kernel overlayfs,
# fuse-overlayfs and forkcellfs, side by side in one run, then the
# checkpoint/restore/fork latencies (bench/ckpt.sh).
#
# Run as root: `make bench` (FORKCELL_BIN=build/release), or directly.
#
# Environment:
#   FORKCELL_BIN     directory holding forkcellfs and forkcellctl
#                    (default: build/release of this checkout)
#   BENCH_DIR        scratch directory (default /var/tmp/forkcell-bench);
#                    everything is created below it and removed at the end
#   BENCH_REPS       repetitions of each workload (default 3; the median is shown)
#   BENCH_FS         columns to run (default "ext4 overlay fuse-overlayfs forkcellfs";
#                    "forkcellfs-base" is forkcellfs built from BENCH_BASE_BIN)
#   BENCH_BASE_BIN   directory holding another forkcellfs + forkcellctl (e.g. a
#                    build of an older commit): adds the column "forkcellfs-base"
#                    to the default list, to compare two builds in one run
#   BENCH_WORKLOADS  the workloads to run, in order (default: all, see WORKLOADS)
#   BENCH_SRC        the tree copied in and used as the base (default /usr/include)
#   BENCH_IMAGE=1    run on a loop-mounted ext4 image (mkfs.ext4 defaults, journal
#                    included) even if BENCH_DIR is on ext4 (done automatically
#                    when it is not)
#   BENCH_TIMEOUT    seconds allowed for one step (default 900)
#   BENCH_SKIP_CKPT=1  do not run bench/ckpt.sh afterwards
#   BENCH_QUICK=1    passed on to ckpt.sh (1k and 10k files only)
#   BENCH_RESULTS    results directory (default bench/results)
#
# Every workload starts cold: `sync; echo 3 > /proc/sys/vm/drop_caches`
# before it. Workloads that write end with `sync; sync` inside the timed
# region (the second sync catches what a FUSE daemon wrote to its backing
# files while the first one flushed the FUSE mount), so buffered writes are
# paid for. See docs/benchmarks.md for the exact commands and the results.
#
# Output: a table on stdout and bench/results/<UTC date>.tsv with one line per
# measurement: run, fs, workload, rep, seconds, 1-minute load average after it
# (other work on the machine shows up there). bench/ckpt.sh appends its lines
# (second field "ckpt" or "ls") to the same file.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

# A private mount namespace: whatever happens, no mount outlives the run.
if [ -z "${FC_BENCH_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "bench/run.sh: must run as root (mounts, drop_caches)" >&2
		exit 1
	fi
	export FC_BENCH_NS=1
	# Other work on the machine disturbs the numbers less at a higher CPU and
	# I/O priority (inherited by the FUSE daemons the bench starts).
	renice -n -10 $$ > /dev/null 2>&1 || true
	ionice -c 2 -n 0 -p $$ > /dev/null 2>&1 || true
	exec unshare -m --propagation private "$0" "$@"
fi

BIN_SRC=${FORKCELL_BIN:-$ROOT/build/release}
WORK=${BENCH_DIR:-/var/tmp/forkcell-bench}
REPS=${BENCH_REPS:-3}
FSLIST=${BENCH_FS:-"ext4 overlay fuse-overlayfs forkcellfs"}
SRC=${BENCH_SRC:-/usr/include}
T=${BENCH_TIMEOUT:-900}
RESDIR=${BENCH_RESULTS:-$HERE/results}
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
TSV=$RESDIR/$STAMP.tsv
CELL=bench
MNT=$WORK/mnt
STORE=$WORK/store
LOWER=$WORK/lower
TOOLS=$WORK/tools
# The binaries are copied here at the start, so a rebuild during the run
# cannot pull them away (forkcellctl finds forkcellfs next to itself).
BIN=$WORK/bin
BIN_BASE=$WORK/bin-base
BASE_SRC=${BENCH_BASE_BIN:-}
if [ -n "$BASE_SRC" ] && [ -z "${BENCH_FS:-}" ]; then
	FSLIST="$FSLIST forkcellfs-base"
fi
FCBIN=$BIN
IMG_MOUNTED=

WORKLOADS=${BENCH_WORKLOADS:-"copy-in stat-walk read-all grep-r create-10k seq-write-512M \
seq-read-512M append-base chown-R-base rm-rf"}

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }
tm() { timeout -k 10 "$T" "$@"; }
drop_caches() { tm sync; echo 3 > /proc/sys/vm/drop_caches; }

cleanup() {
	local rc=$? m
	set +e
	# A run that did not finish keeps its data under a name that says so.
	if [ "$rc" != 0 ] && [ -s "${TSV:-}" ]; then
		mv "$TSV" "${TSV%.tsv}-FAILED.tsv"
	fi
	# Unmount everything below WORK, deepest first.
	for m in $(awk -v w="$WORK" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo |
		   sort -r); do
		timeout 30 fusermount3 -u -z "$m" 2>/dev/null || timeout 30 umount -l "$m"
	done
	[ -n "$IMG_MOUNTED" ] && timeout 60 umount -l "$WORK" 2>/dev/null
	if [ -z "${BENCH_KEEP:-}" ]; then
		rm -rf "$WORK"
		[ -n "$IMG_MOUNTED" ] && rm -f "$WORK.img"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- set-up ----

machine_info() {
	local disk
	disk=$(df --output=source "$WORK" | tail -1)
	echo "# machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' \
		/proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' \
		/proc/meminfo) RAM, kernel $(uname -r)"
	echo "# scratch: $WORK on $disk ($(df --output=fstype "$WORK" | tail -1))," \
		"rotational=$(cat "/sys/block/$(basename "$(readlink -f "$disk")" | \
		sed 's/[0-9]*$//')/queue/rotational" 2>/dev/null || echo '?')"
	if [ "$(df --output=fstype "$WORK" | tail -1)" = ext4 ]; then
		if ext4_without_journal "$WORK"; then
			echo "# scratch ext4 has no journal: creates soon after deletes are slow" \
				"(see ext4_without_journal in bench/run.sh)"
		else
			echo "# scratch ext4 has a journal"
		fi
	fi
	echo "# fuse-overlayfs $(fuse-overlayfs --version 2>&1 | awk '/fuse-overlayfs/ { print $3 }')," \
		"reps=$REPS, source $SRC ($(find "$SRC" | wc -l) entries, $(du -sh "$SRC" | cut -f1))"
}

# True when the ext4 holding $1 runs without a journal: no jbd2 instance is
# registered for its block device (this machine's root file system). Its
# inode allocator then skips every inode freed in the last 60-360 s
# (recently_deleted() in fs/ext4/ialloc.c, active only without a journal):
# for a while after an rm -rf, each create(2) scans the inode table and costs
# ~250 us instead of ~10 us. The run says so in its header; BENCH_IMAGE=1
# gives a journalled ext4 instead (docs/benchmarks.md has both).
ext4_without_journal() {
	local dev
	dev=$(findmnt -no MAJ:MIN -T "$1" 2>/dev/null | tr -d " ") || return 1
	dev=$(basename "$(readlink -f "/sys/dev/block/$dev")")
	! compgen -G "/proc/fs/jbd2/$dev-*" > /dev/null
}

setup_scratch() {
	mkdir -p "$WORK"
	if [ "${BENCH_IMAGE:-0}" = 1 ] || [ "$(df --output=fstype "$WORK" | tail -1)" != ext4 ]; then
		log "scratch is not on ext4 (or BENCH_IMAGE=1): using a loop-mounted ext4 image"
		rm -f "$WORK.img"
		tm truncate -s "${BENCH_IMG_SIZE:-12G}" "$WORK.img"
		# One inode per 4 KiB: bench/ckpt.sh's 1M-file tree needs them.
		tm mkfs.ext4 -q -F -i 4096 "$WORK.img"
		tm mount -o loop "$WORK.img" "$WORK"
		IMG_MOUNTED=1
	fi
	rm -rf "${WORK:?}"/*
	mkdir -p "$MNT" "$TOOLS" "$RESDIR" "$BIN"
	if [ -x "$BIN_SRC/forkcellctl" ] && [ -x "$BIN_SRC/forkcellfs" ]; then
		cp "$BIN_SRC/forkcellctl" "$BIN_SRC/forkcellfs" "$BIN/"
	fi
	if [ -n "$BASE_SRC" ]; then
		mkdir -p "$BIN_BASE"
		cp "$BASE_SRC/forkcellctl" "$BASE_SRC/forkcellfs" "$BIN_BASE/" ||
			die "BENCH_BASE_BIN=$BASE_SRC: no forkcellctl/forkcellfs there"
	fi
	local t
	for t in gen_tree fsop lat; do
		tm cc -O2 -o "$TOOLS/$t" "$HERE/$t.c"
	done
	# The base layer: two copies of SRC (base/ for reads and appends,
	# base2/ for chown, so that one workload's copy-ups do not help another).
	mkdir -p "$LOWER"
	tm cp -a "$SRC" "$LOWER/base"
	tm cp -a "$SRC" "$LOWER/base2"
	SRC_FILES=$(find "$SRC" | wc -l)
}

have_forkcell() {
	[ -x "$1/forkcellfs" ] && [ -x "$1/forkcellctl" ] &&
		"$1/forkcellctl" --help > /dev/null 2>&1
}

# forkcellctl of the column being run (FCBIN: $BIN or $BIN_BASE).
fc() { tm "$FCBIN/forkcellctl" --store "$STORE" "$@"; }

# Prepare a fresh instance of fs at $DIR (the directory the workloads use).
fs_setup() {
	case $1 in
	ext4)
		DIR=$WORK/ext4
		rm -rf "$DIR"
		mkdir -p "$DIR"
		tm cp -a "$LOWER/base" "$LOWER/base2" "$DIR/"
		;;
	overlay | fuse-overlayfs)
		DIR=$MNT
		rm -rf "$WORK/upper" "$WORK/ovlwork"
		mkdir -p "$WORK/upper" "$WORK/ovlwork"
		local o="lowerdir=$LOWER,upperdir=$WORK/upper,workdir=$WORK/ovlwork"
		if [ "$1" = overlay ]; then
			tm mount -t overlay overlay -o "$o" "$MNT"
		else
			tm fuse-overlayfs -o "$o" "$MNT" 2> "$WORK/fuse-overlayfs.log"
		fi
		;;
	forkcellfs | forkcellfs-base)
		DIR=$MNT
		FCBIN=$BIN
		[ "$1" = forkcellfs-base ] && FCBIN=$BIN_BASE
		rm -rf "$STORE"
		fc init "$CELL" --from "$LOWER" > /dev/null
		fc mount "$CELL" "$MNT" > /dev/null
		;;
	esac
	if [ "$1" != ext4 ]; then
		mountpoint -q "$MNT" || die "$1: $MNT is not mounted"
	fi
}

fs_teardown() {
	case $1 in
	ext4) rm -rf "$WORK/ext4" ;;
	overlay) tm umount "$MNT" ;;
	fuse-overlayfs) tm fusermount3 -u "$MNT" ;;
	forkcellfs | forkcellfs-base)
		fc umount "$CELL" > /dev/null
		rm -rf "$STORE"
		;;
	esac
	rm -rf "$WORK/upper" "$WORK/ovlwork"
}

# The command of one workload, run by bash -c with D set to the directory.
workload_cmd() {
	case $1 in
	copy-in) echo 'cp -a "$SRC" "$D/copy" && sync && sync' ;;
	stat-walk) echo 'find "$D/base" -printf "%i %n %s %m %u %g %T@ %p\n" > /dev/null' ;;
	read-all) echo 'tar -C "$D" -cf - base | cat > /dev/null' ;;
	grep-r) echo 'grep -r -e forkcell-bench-needle "$D/base" > /dev/null; test $? = 1' ;;
	create-10k) echo '"$TOOLS/gen_tree" "$D/small" 10000 1000 100 && sync && sync' ;;
	seq-write-512M)
		echo 'dd if=/dev/zero of="$D/big" bs=1M count=512 conv=fsync status=none' ;;
	seq-read-512M) echo 'dd if="$D/big" of=/dev/null bs=1M status=none' ;;
	append-base) echo '"$TOOLS/fsop" append "$D/base" > /dev/null && sync && sync' ;;
	chown-R-base) echo 'chown -R -h 1000:1000 "$D/base2" && sync && sync' ;;
	rm-rf) echo 'rm -rf "$D/copy" "$D/small" "$D/big" "$D/base" "$D/base2" && sync && sync' ;;
	esac
}

# Cheap correctness checks between workloads (untimed).
verify() {
	local fs=$1 w=$2 n
	case $w in
	copy-in)
		n=$(find "$DIR/copy" | wc -l)
		[ "$n" = "$SRC_FILES" ] || die "$fs: copy-in made $n entries, expected $SRC_FILES"
		;;
	seq-write-512M)
		n=$(stat -c %s "$DIR/big")
		[ "$n" = 536870912 ] || die "$fs: big file has $n bytes"
		;;
	append-base)
		tail -n 1 "$DIR/base/stdio.h" | grep -q 'appended by forkcell bench' ||
			die "$fs: append did not reach base/stdio.h"
		;;
	chown-R-base)
		n=$(stat -c %u "$DIR/base2/stdio.h")
		[ "$n" = 1000 ] || die "$fs: chown left uid $n"
		;;
	rm-rf)
		n=$(find "$DIR" -mindepth 1 | wc -l)
		[ "$n" = 0 ] || die "$fs: $n entries left after rm -rf"
		;;
	esac
}

run_fs_rep() {
	local fs=$1 rep=$2 w cmd t0 t1 secs f
	fs_setup "$fs"
	# The FUSE transport's floor: one getxattr round trip (median of 20 000).
	if [ "$rep" = 1 ] && [ "$fs" != ext4 ] && [ "$fs" != overlay ]; then
		f=$(find "$DIR/base" -type f -print -quit)
		log "$fs: one FUSE round trip (getxattr) $("$TOOLS/fsop" rtt "$f" 20000) us median"
	fi
	for w in $WORKLOADS; do
		cmd=$(workload_cmd "$w")
		drop_caches
		t0=$EPOCHREALTIME
		if ! D=$DIR SRC=$SRC TOOLS=$TOOLS tm bash -c "$cmd"; then
			die "$fs: workload $w failed"
		fi
		t1=$EPOCHREALTIME
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$STAMP" "$fs" "$w" "$rep" "$secs" \
			"$(cut -d' ' -f1 /proc/loadavg)" >> "$TSV"
		log "$fs rep $rep: $w ${secs}s (load $(cut -d' ' -f1 /proc/loadavg))"
		verify "$fs" "$w"
	done
	fs_teardown "$fs"
}

# ---- report ----

print_table() {
	awk -F'\t' -v fslist="$1" -v wl="$WORKLOADS" '
	{ key = $2 SUBSEP $3; n[key]++; v[key, n[key]] = $5 }
	function median(key,   i, j, m, a, t) {
		m = n[key]
		for (i = 1; i <= m; i++) a[i] = v[key, i]
		for (i = 1; i <= m; i++)
			for (j = i + 1; j <= m; j++)
				if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	}
	END {
		nf = split(fslist, fs, " ")
		nw = split(wl, w, " ")
		printf "%-16s", "workload (s)"
		for (i = 1; i <= nf; i++) printf " %22s", fs[i]
		printf "\n"
		for (j = 1; j <= nw; j++) {
			printf "%-16s", w[j]
			base = (("ext4" SUBSEP w[j]) in n) ? median("ext4" SUBSEP w[j]) : 0
			for (i = 1; i <= nf; i++) {
				key = fs[i] SUBSEP w[j]
				if (!(key in n)) { printf " %22s", "-"; continue }
				m = median(key)
				if (base > 0)
					printf " %13.3f (%5.2fx)", m, m / base
				else
					printf " %22.3f", m
			}
			printf "\n"
		}
	}' "$TSV"
}

# ---- main ----

main() {
	local fs rep cols=""
	command -v fuse-overlayfs > /dev/null || die "fuse-overlayfs is not installed"
	setup_scratch
	machine_info
	for fs in $FSLIST; do
		if [ "$fs" = forkcellfs ] && ! have_forkcell "$BIN"; then
			log "forkcellfs: binaries in $BIN_SRC missing or not working: column skipped"
			continue
		fi
		if [ "$fs" = forkcellfs-base ] && ! have_forkcell "$BIN_BASE"; then
			log "forkcellfs-base: set BENCH_BASE_BIN to a build directory: column skipped"
			continue
		fi
		cols="$cols $fs"
	done
	: > "$TSV"
	for rep in $(seq 1 "$REPS"); do
		for fs in $cols; do
			run_fs_rep "$fs" "$rep"
		done
	done
	echo "# median of $REPS runs, seconds (ratio to ext4); cold caches; load average" \
		"$(cut -d' ' -f1-3 /proc/loadavg); raw data: $TSV"
	print_table "$cols"
	if [ "${BENCH_SKIP_CKPT:-0}" != 1 ]; then
		if [[ " $cols " == *" forkcellfs "* ]]; then
			BENCH_DIR=$WORK/ckpt BENCH_TSV=$TSV BENCH_TOOLS=$TOOLS FORKCELL_BIN=$BIN \
				"$HERE/ckpt.sh"
		else
			log "checkpoint/restore/fork latency skipped: forkcellfs not available"
		fi
	fi
}

main "$@"
exit
