#!/bin/bash
# Start a Docker engine (dockerd from Debian's docker.io) without systemd, for
# the `docker` runtime's tests and `make docker-image`. CI machines are plain
# containers or VMs where no init system starts services, so .ci/run calls this.
#
#   scripts/start-dockerd.sh          start dockerd unless one already answers
#   scripts/start-dockerd.sh --stop   stop the dockerd this script started
#
# Idempotent: if the socket already answers /_ping, nothing is done. Otherwise
# dockerd is started detached (its own session, stdio to the log), and the
# script waits for /_ping. Storage drivers are tried in order: overlay2, then
# fuse-overlayfs, then vfs (slow, but works everywhere). Exits non-zero with a
# message naming the log on failure.
#
# Flags and why:
#   --bridge=none --iptables=false --ip6tables=false
#       sandboxes always run with network "none"; there is no reason to create
#       a docker0 bridge or to rewrite the host firewall (FORWARD DROP, NAT).
#   --log-level=warn   the info level logs every gRPC state change.
#
# Environment:
#   FORKCELL_DOCKER_SOCK     socket path (default /var/run/docker.sock)
#   FORKCELL_DOCKERD_LOG     log file (default /var/log/forkcell-dockerd.log)
#   FORKCELL_DOCKERD_STORAGE force one storage driver instead of trying the list
#   FORKCELL_DOCKERD_FLAGS   extra dockerd flags (word-split)
#   FORKCELL_DOCKERD_WAIT    seconds to wait for /_ping per attempt (default 60)
#   FORKCELL_START_DOCKERD_PIDFILE
#                            where this script records the pid it started
#                            (default /var/run/forkcell-dockerd.pid; dockerd's
#                            own pid file stays /var/run/docker.pid)
set -euo pipefail

SOCK=${FORKCELL_DOCKER_SOCK:-/var/run/docker.sock}
LOG=${FORKCELL_DOCKERD_LOG:-/var/log/forkcell-dockerd.log}
WAIT=${FORKCELL_DOCKERD_WAIT:-60}
PIDFILE=${FORKCELL_START_DOCKERD_PIDFILE:-/var/run/forkcell-dockerd.pid}
ME=start-dockerd

die() {
	echo "$ME: $*" >&2
	exit 1
}

ping_ok() {
	[ -S "$SOCK" ] &&
		[ "$(curl -s --max-time 5 --unix-socket "$SOCK" http://localhost/_ping 2>/dev/null)" = OK ]
}

# alive PID: the process exists and is not a zombie.
alive() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

stop_ours() {
	local pid
	[ -f "$PIDFILE" ] || return 0
	pid=$(cat "$PIDFILE")
	if alive "$pid"; then
		kill "$pid"
		for _ in $(seq 1 100); do
			alive "$pid" || break
			sleep 0.2
		done
		if alive "$pid"; then
			kill -9 "$pid"
		fi
	fi
	rm -f "$PIDFILE"
}

if [ "${1:-}" = --stop ]; then
	stop_ours
	echo "$ME: stopped"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root"
command -v curl >/dev/null || die "curl is missing (apt-get install curl)"

if ping_ok; then
	echo "$ME: docker engine already answers on $SOCK"
	exit 0
fi

command -v dockerd >/dev/null ||
	die "dockerd is missing (apt-get install docker.io)"

# A previous dockerd killed with SIGKILL (as at the end of a session) leaves its
# pid files behind; dockerd refuses to start while they name a live process only,
# but a recycled pid could make them do so.
for f in /var/run/docker.pid /var/run/docker/containerd/containerd.pid "$PIDFILE"; do
	if [ -f "$f" ] && ! alive "$(cat "$f" 2>/dev/null || echo 0)"; then
		rm -f "$f"
	fi
done
if [ -f /var/run/docker.pid ] && [ "$SOCK" = /var/run/docker.sock ]; then
	die "a dockerd (pid $(cat /var/run/docker.pid)) runs but $SOCK does not answer; see $LOG"
fi

mkdir -p "$(dirname "$LOG")" "$(dirname "$SOCK")"
if [ -n "${FORKCELL_DOCKERD_STORAGE:-}" ]; then
	drivers=("$FORKCELL_DOCKERD_STORAGE")
else
	drivers=(overlay2 fuse-overlayfs vfs)
fi

# try DRIVER: start dockerd with DRIVER and wait for /_ping; 0 when it answers.
try() {
	local driver=$1 pid
	# shellcheck disable=SC2086 # FORKCELL_DOCKERD_FLAGS is a list of flags
	setsid dockerd --host "unix://$SOCK" --storage-driver "$driver" \
		--bridge=none --iptables=false --ip6tables=false --log-level=warn \
		${FORKCELL_DOCKERD_FLAGS:-} </dev/null >>"$LOG" 2>&1 &
	# A script's background child is no group leader, so setsid execs in place
	# and $! is dockerd itself.
	pid=$!
	echo "$pid" >"$PIDFILE"
	for _ in $(seq 1 $((WAIT * 5))); do
		if ping_ok; then
			echo "$ME: dockerd pid $pid answers on $SOCK (storage driver $driver," \
				"log $LOG)"
			return 0
		fi
		alive "$pid" || break
		sleep 0.2
	done
	echo "$ME: dockerd with storage driver $driver did not come up" >&2
	if alive "$pid"; then
		kill "$pid" 2>/dev/null || true
		sleep 1
		kill -9 "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	rm -f "$PIDFILE"
	return 1
}

echo "==== $ME $(date -u +%FT%TZ)" >>"$LOG"
for d in "${drivers[@]}"; do
	if try "$d"; then
		exit 0
	fi
done
echo "$ME: last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
die "cannot start dockerd with any storage driver (${drivers[*]}); see $LOG"
