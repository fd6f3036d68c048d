#!/bin/bash
# Install every Debian 12 package that ForkCell's build, tests, demo and
# benchmarks need. Idempotent: packages already present are left alone.
# Run as root (or through sudo) on Debian 12 "bookworm".
#
#   scripts/install-deps.sh           install everything
#   scripts/install-deps.sh --print   print the package list and exit
set -euo pipefail

PACKAGES=(
	# build
	build-essential pkg-config make gcc
	libfuse3-dev liblmdb-dev libxxhash-dev libcjson-dev libyaml-dev
	libssl-dev libcurl4-openssl-dev libseccomp-dev libevent-dev
	# fuzzing (make fuzz: clang's libFuzzer runtime); static analysis (make lint)
	clang libclang-rt-14-dev cppcheck
	# runtime
	fuse3 bubblewrap
	# tests: TAP runner (prove is in perl), FUSE, store inspection, oracles
	perl lmdb-utils fuse-overlayfs attr acl e2fsprogs util-linux kmod
	procps psmisc coreutils findutils python3 git
	# policy tests: test CAs (openssl), veth pairs and namespaces (iproute2)
	openssl iproute2 ca-certificates
	# stress and benchmarks
	stress-ng fio hyperfine busybox-static
	# the docker runtime and its tests (Docker Engine API over the socket)
	docker.io curl
)

if [ "${1:-}" = "--print" ]; then
	printf '%s\n' "${PACKAGES[@]}"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: must run as root (try: sudo $0)" >&2
	exit 1
fi

if [ -r /etc/os-release ]; then
	# shellcheck disable=SC1091
	. /etc/os-release
	if [ "${ID:-}" != "debian" ] || [ "${VERSION_ID:-}" != "12" ]; then
		echo "install-deps: warning: written for Debian 12, this is" \
			"${PRETTY_NAME:-unknown}" >&2
	fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

export DEBIAN_FRONTEND=noninteractive
if [ "${#missing[@]}" -eq 0 ] && [ "${FORCE_APT:-0}" != 1 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages already installed"
else
	echo "install-deps: installing: ${missing[*]:-${PACKAGES[*]}}"
	apt-get update
	apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi

# FUSE needs the kernel module and /dev/fuse.
if [ ! -c /dev/fuse ]; then
	modprobe fuse 2>/dev/null || true
fi
if [ ! -c /dev/fuse ]; then
	echo "install-deps: warning: /dev/fuse is missing; FUSE mounts will not work" >&2
fi
