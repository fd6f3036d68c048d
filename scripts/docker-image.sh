#!/bin/bash
# Build the sandbox image of the `docker` runtime (`make docker-image`): a root
# filesystem made from Debian packages, turned into an image by `docker import`.
# No registry is involved at any point (nothing is pulled), so this works on a
# machine that reaches only Debian's archive. See docker/README.md.
#
#   scripts/docker-image.sh        build forkcell-sandbox:latest (busybox rootfs)
#
# Environment:
#   FORKCELL_IMAGE               image name (default forkcell-sandbox:latest)
#   FORKCELL_IMAGE_DEBOOTSTRAP=1 a Debian bookworm minbase rootfs made with
#                                debootstrap from the mirror apt uses here, instead
#                                of busybox-static (minutes, needs the network to
#                                the Debian archive; not used in CI)
#   FORKCELL_IMAGE_FORCE=1       import even if the image is up to date
#   SOURCE_DATE_EPOCH            mtime of every file in the rootfs (default 0)
#   DOCKER                       the docker CLI (default docker)
#
# The busybox image is reproducible: the same busybox-static package and the
# same docker/ tree give the same rootfs tar byte for byte, whose SHA-256 is
# recorded in the image label forkcell.rootfs.sha256. When an image with that
# label exists already, nothing is imported (the build takes well under a
# second). The image ID is printed and written to build/docker-image.id.
set -euo pipefail

cd "$(dirname "$0")/.."
SRCDIR=$PWD
IMAGE=${FORKCELL_IMAGE:-forkcell-sandbox:latest}
DOCKER=${DOCKER:-docker}
EPOCH=${SOURCE_DATE_EPOCH:-0}
ME=docker-image
# Applets the runtime's tests and ordinary scripts rely on; the build fails
# if the busybox in use lacks one. (Not wget: Debian 12's static busybox wget
# crashes, also on the host.)
REQUIRED_TOOLS="sh ls cat echo sleep test [ mkdir rm cp mv true false grep sed head tail wc
	env id touch chmod chown ln pwd printf stat find xargs sort uniq tr cut diff
	dd md5sum sha256sum tar gzip nc ps kill timeout"

die() {
	echo "$ME: $*" >&2
	exit 1
}

command -v "$DOCKER" >/dev/null || die "no docker CLI ($DOCKER); apt-get install docker.io"
"$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	die "the docker engine does not answer; start it with scripts/start-dockerd.sh"

work=$(mktemp -d /tmp/forkcell-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
mkdir "$rootfs"

# Directories every variant has. /workspace is where the cell is mounted;
# it belongs to the non-root user so that the image works standalone too.
common_layout() {
	local d
	for d in bin sbin usr/bin usr/sbin etc root home/sandbox workspace tmp var/tmp proc \
		sys dev run; do
		mkdir -p "$rootfs/$d"
	done
	chmod 0700 "$rootfs/root"
	chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
	chown 1000:1000 "$rootfs/home/sandbox" "$rootfs/workspace"
	chmod 0755 "$rootfs/home/sandbox" "$rootfs/workspace"
}

build_busybox() {
	local bb app applets
	# awk reads all of its input: an early exit would fail the pipe (pipefail).
	bb=$(dpkg-query -L busybox-static 2>/dev/null | awk '/\/bin\/busybox$/ && !n++') || true
	[ -n "$bb" ] || die "busybox-static is not installed (apt-get install busybox-static)"
	# A dynamic busybox would need the host's libc inside the image.
	if ldd "$bb" >/dev/null 2>&1; then
		die "$bb is dynamically linked; install busybox-static"
	fi
	common_layout
	install -m 0755 "$bb" "$rootfs/bin/busybox"
	# --list-full names each applet's usual place (bin/sh, usr/bin/wc, sbin/ip).
	# One perl process for the ~270 links: a fork per link takes seconds on a busy machine.
	"$rootfs/bin/busybox" --list-full |
		ROOTFS=$rootfs perl -nle '-e "$ENV{ROOTFS}/$_" or symlink("/bin/busybox",
			"$ENV{ROOTFS}/$_") or die "cannot link $_: $!\n"'
	applets=" $("$rootfs/bin/busybox" --list | tr '\n' ' ') "
	for app in $REQUIRED_TOOLS; do
		case "$applets" in
		*" $app "*) ;;
		*) die "busybox lacks the applet '$app'" ;;
		esac
	done
	install -m 0644 "$SRCDIR/docker/rootfs/etc/passwd" "$SRCDIR/docker/rootfs/etc/group" \
		"$rootfs/etc/"
	BASE="busybox-static $(dpkg-query -W -f='${Version}' busybox-static)"
}

# The mirror apt uses here (deb822 or one-line format), so that no host name
# is written into this script.
apt_mirror() {
	local m
	m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null ||
		true)
	if [ -z "$m" ]; then
		m=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++)
			if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null ||
			true)
	fi
	[ -n "$m" ] || die "cannot find a Debian mirror in apt's sources"
	echo "$m"
}

build_debootstrap() {
	local mirror
	command -v debootstrap >/dev/null ||
		die "FORKCELL_IMAGE_DEBOOTSTRAP=1 needs debootstrap (apt-get install debootstrap)"
	mirror=$(apt_mirror)
	echo "$ME: debootstrap bookworm (minbase) from $mirror"
	debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{
			tail -n 20 "$work/debootstrap.log" >&2
			die "debootstrap failed"
		}
	common_layout
	grep -q '^sandbox:' "$rootfs/etc/passwd" ||
		grep '^sandbox:' "$SRCDIR/docker/rootfs/etc/passwd" >>"$rootfs/etc/passwd"
	grep -q '^sandbox:' "$rootfs/etc/group" ||
		grep '^sandbox:' "$SRCDIR/docker/rootfs/etc/group" >>"$rootfs/etc/group"
	# Caches and logs only make the image bigger and less reproducible.
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
		"$rootfs"/var/log/* "$rootfs"/debootstrap
	BASE="debootstrap bookworm minbase"
}

t0=$(date +%s%N)
if [ "${FORKCELL_IMAGE_DEBOOTSTRAP:-0}" = 1 ]; then
	build_debootstrap
else
	build_busybox
fi
printf 'forkcell-sandbox\nbase: %s\n' "$BASE" >"$rootfs/etc/forkcell-sandbox"

# Sorted names, one mtime, numeric owners: the same tree gives the same bytes.
tar -C "$rootfs" --sort=name --mtime="@$EPOCH" --numeric-owner --format=gnu \
	-cf "$work/rootfs.tar" .
sha=$(sha256sum "$work/rootfs.tar" | cut -d' ' -f1)

current=$("$DOCKER" image inspect -f '{{ index .Config.Labels "forkcell.rootfs.sha256" }}' \
	"$IMAGE" 2>/dev/null || true)
old_id=$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
if [ "$current" = "$sha" ] && [ "${FORKCELL_IMAGE_FORCE:-0}" != 1 ]; then
	echo "$ME: $IMAGE is up to date (rootfs sha256 $sha)"
else
	# The image's default user is the unprivileged sandbox user; the docker
	# runtime chooses the user per run (see docker/README.md).
	"$DOCKER" import \
		--change 'USER sandbox' \
		--change 'WORKDIR /workspace' \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change "LABEL forkcell.rootfs.sha256=$sha" \
		--change "LABEL forkcell.base=\"$BASE\"" \
		--change 'CMD ["/bin/sh"]' \
		--message "forkcell sandbox rootfs ($BASE)" \
		"$work/rootfs.tar" "$IMAGE" >/dev/null
fi
id=$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE")
# The image the tag named before is left dangling: drop it unless a container uses it.
if [ -n "$old_id" ] && [ "$old_id" != "$id" ]; then
	"$DOCKER" image rm "$old_id" >/dev/null 2>&1 || true
fi
mkdir -p build
printf '%s %s rootfs-sha256:%s\n' "$IMAGE" "$id" "$sha" >build/docker-image.id
echo "$ME: $IMAGE $id ($BASE, $(du -k "$work/rootfs.tar" | cut -f1) KiB," \
	"$((($(date +%s%N) - t0) / 1000000)) ms)"
