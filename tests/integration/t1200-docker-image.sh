#!/bin/bash
# The sandbox image that `make docker-image` builds (scripts/docker-image.sh)
# works: it runs with no network, its default user is the unprivileged
# `sandbox`, root and numeric users work too, the busybox tools scripts rely on
# are there, the root filesystem is read-only under the runtime's options while
# /tmp (a tmpfs) is writable, a rebuild of the same recipe is a no-op, and
# scripts/start-dockerd.sh leaves a running engine alone.
#
# Needs a running engine (scripts/start-dockerd.sh) and the image; CI provides
# both, elsewhere the test is skipped.
. "$(dirname "$0")/lib.sh"

IMAGE=${FORKCELL_IMAGE:-forkcell-sandbox:latest}
LABEL=forkcell.test=t1200
# shellcheck disable=SC2034 # used inside the eval'd test bodies
TOOLS="sh ls cat echo sleep test mkdir rm cp mv true false grep sed head tail wc env id \
touch chmod ln pwd printf stat find xargs sort uniq tr cut diff dd sha256sum tar \
gzip nc ps kill timeout"

fc_require_cmd docker
fc_t 30 docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	skip_all "no docker engine answers (start one with scripts/start-dockerd.sh)"
fc_t 30 docker image inspect "$IMAGE" >/dev/null 2>&1 ||
	skip_all "no image $IMAGE (build it with make docker-image)"

# drun ARGS...: docker run --rm with the test's label, under timeout.
drun() {
	fc_t 120 docker run --rm --label "$LABEL" --network none "$@"
}

test_expect_success 'the image runs a shell with no network' '
	drun "$IMAGE" sh -c "echo ok" >out &&
	test_cmp_str ok "$(cat out)"
'

test_expect_success 'the default user is sandbox (1000:1000) in /workspace' '
	drun "$IMAGE" sh -c "id -un; id -u; id -g; pwd" >out &&
	printf "sandbox\n1000\n1000\n/workspace\n" >expect &&
	test_cmp expect out
'

test_expect_success 'the sandbox user can write its home and /workspace' '
	drun "$IMAGE" sh -c "touch /workspace/f && touch /home/sandbox/f && echo done" >out &&
	test_cmp_str done "$(cat out)"
'

test_expect_success 'root, nobody and a numeric user work' '
	drun --user root "$IMAGE" id -u >out &&
	test_cmp_str 0 "$(cat out)" &&
	drun --user nobody "$IMAGE" id -un >out &&
	test_cmp_str nobody "$(cat out)" &&
	drun --user 4242:4242 "$IMAGE" id -u >out &&
	test_cmp_str 4242 "$(cat out)"
'

test_expect_success 'the busybox tools are on PATH' '
	drun "$IMAGE" sh -c "for t in $TOOLS; do command -v \"\$t\" >/dev/null || echo missing \$t; done; echo end" >out &&
	test_cmp_str end "$(cat out)"
'

test_expect_success 'under the runtime options the rootfs is read-only and /tmp is not' '
	drun --read-only --tmpfs /tmp:rw,nosuid,nodev,size=16m --cap-drop ALL \
		--security-opt no-new-privileges --user root "$IMAGE" sh -c "
		echo x >/tmp/x && cat /tmp/x &&
		if touch /etc/x 2>/dev/null; then echo wrote-etc; fi &&
		if touch /x 2>/dev/null; then echo wrote-root; fi &&
		grep CapEff /proc/self/status" >out &&
	printf "x\nCapEff:\t0000000000000000\n" >expect &&
	test_cmp expect out
'

test_expect_success 'network none leaves only the loopback interface' '
	drun "$IMAGE" sh -c "ip -o link | cut -d: -f2 | tr -d \" \"" >out &&
	test_cmp_str lo "$(cat out)"
'

test_expect_success 'the layer is the recorded rootfs (reproducible import)' '
	fc_t 30 docker image inspect -f "{{ index .Config.Labels \"forkcell.rootfs.sha256\" }}" \
		"$IMAGE" >label &&
	fc_t 30 docker image inspect -f "{{ range .RootFS.Layers }}{{ . }} {{ end }}" \
		"$IMAGE" >layers &&
	test_cmp_str "sha256:$(cat label) " "$(cat layers)"
'

# The first build brings a stale image up to date; the second must change nothing.
test_expect_success 'rebuilding the same recipe keeps the image' '
	fc_t 120 "$FC_SRCDIR/scripts/docker-image.sh" &&
	before=$(fc_t 30 docker image inspect -f "{{.Id}}" "$IMAGE") &&
	fc_t 120 "$FC_SRCDIR/scripts/docker-image.sh" >out 2>&1 &&
	test_grep "up to date" out &&
	after=$(fc_t 30 docker image inspect -f "{{.Id}}" "$IMAGE") &&
	test_cmp_str "$before" "$after"
'

test_expect_success 'start-dockerd.sh leaves a running engine alone' '
	fc_t 60 "$FC_SRCDIR/scripts/start-dockerd.sh" >out 2>&1 &&
	test_grep "already answers" out
'

test_expect_success 'no container of this test is left' '
	fc_t 30 docker ps -aq --filter "label=$LABEL" >left &&
	test_cmp_str "" "$(cat left)"
'

test_done
