# Fuzzing of the pure decoders (run by `make fuzz` from the top directory).
#
#   build/fuzz/fuzz_codec         libFuzzer + ASan + UBSan (clang)
#   build/fuzz/fuzz_codec_replay  the same target with standalone_main.c (gcc)
#   build/fuzz/fuzz_policy        the policy parser, canonical form and diff
#   build/fuzz/fuzz_policy_replay (seeds in tests/fuzz/corpus/policy/)
#   build/fuzz/fuzz_ctlproto      control-protocol lines (seeds in tests/fuzz/corpus/ctlproto/)
#   build/fuzz/fuzz_http          HTTP heads, body framing, upstream rewrite, canonical
#                                 paths and egress decisions (seeds in tests/fuzz/corpus/http/)
#
# `make fuzz` replays the seeds with the gcc build, then fuzzes for
# FUZZ_TIME seconds from the seeds. New inputs go to build/fuzz/corpus/,
# never into the committed seeds; copy a minimised crash into
# tests/fuzz/corpus/codec/ to keep it as a regression seed.

CLANG ?= clang
GCC ?= gcc
FUZZ_TIME ?= 30
FUZZ_OUT := build/fuzz
FUZZ_SEEDS := tests/fuzz/corpus/codec
CODEC_SRC := common/fc_codec.c common/fc_err.c
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Icommon -Wall -Wextra -Werror \
	-Wno-unused-parameter $(shell pkg-config --cflags lmdb 2>/dev/null)

POLICY_SEEDS := tests/fuzz/corpus/policy
POLICY_SRC := common/fc_policy.c common/fc_policy_yaml.c common/fc_policy_net.c \
	common/fc_policy_canon.c common/fc_policy_diff.c common/fc_glob.c common/fc_canon.c \
	common/fc_hash.c common/fc_err.c
POLICY_HDR := common/fc_policy.h common/fc_policy_int.h common/fc_glob.h common/fc_canon.h \
	common/fc_hash.h common/fc_err.h
POLICY_LIBS := -lyaml $(shell pkg-config --libs libcjson openssl libxxhash lmdb 2>/dev/null)

CTL_SEEDS := tests/fuzz/corpus/ctlproto
CTL_SRC := common/fc_ctlproto.c common/fc_canon.c common/fc_codec.c common/fc_err.c
CTL_LIBS := $(shell pkg-config --libs libcjson 2>/dev/null) -lm

HTTP_SEEDS := tests/fuzz/corpus/http
HTTP_SRC := common/fc_http.c common/fc_http_msg.c common/fc_http_body.c common/fc_egress.c \
	common/fc_egress_path.c common/fc_egress_addr.c $(POLICY_SRC)
HTTP_HDR := common/fc_http.h common/fc_http_int.h common/fc_egress.h common/fc_egress_int.h \
	$(POLICY_HDR)

.PHONY: all replay run replay-policy run-policy replay-ctlproto run-ctlproto replay-http run-http
all: replay run replay-policy run-policy replay-ctlproto run-ctlproto replay-http run-http

$(FUZZ_OUT)/fuzz_codec: tests/fuzz/fuzz_codec.c $(CODEC_SRC) common/fc_codec.h common/fc_err.h
	@mkdir -p $(FUZZ_OUT)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ tests/fuzz/fuzz_codec.c $(CODEC_SRC)

$(FUZZ_OUT)/fuzz_codec_replay: tests/fuzz/fuzz_codec.c tests/fuzz/standalone_main.c \
		$(CODEC_SRC) common/fc_codec.h common/fc_err.h
	@mkdir -p $(FUZZ_OUT)
	$(GCC) $(FUZZ_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all \
		-o $@ tests/fuzz/fuzz_codec.c tests/fuzz/standalone_main.c $(CODEC_SRC)

replay: $(FUZZ_OUT)/fuzz_codec_replay
	$(FUZZ_OUT)/fuzz_codec_replay $(FUZZ_SEEDS)

run: $(FUZZ_OUT)/fuzz_codec
	@mkdir -p $(FUZZ_OUT)/corpus/codec
	$(FUZZ_OUT)/fuzz_codec -max_total_time=$(FUZZ_TIME) -timeout=5 -rss_limit_mb=2048 \
		-artifact_prefix=$(FUZZ_OUT)/ $(FUZZ_OUT)/corpus/codec $(FUZZ_SEEDS)

$(FUZZ_OUT)/fuzz_policy: tests/fuzz/fuzz_policy.c $(POLICY_SRC) $(POLICY_HDR)
	@mkdir -p $(FUZZ_OUT)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ tests/fuzz/fuzz_policy.c $(POLICY_SRC) $(POLICY_LIBS)

$(FUZZ_OUT)/fuzz_policy_replay: tests/fuzz/fuzz_policy.c tests/fuzz/standalone_main.c \
		$(POLICY_SRC) $(POLICY_HDR)
	@mkdir -p $(FUZZ_OUT)
	$(GCC) $(FUZZ_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all \
		-o $@ tests/fuzz/fuzz_policy.c tests/fuzz/standalone_main.c $(POLICY_SRC) \
		$(POLICY_LIBS)

replay-policy: $(FUZZ_OUT)/fuzz_policy_replay
	$(FUZZ_OUT)/fuzz_policy_replay $(POLICY_SEEDS)

# -max_len: policies up to the 1 MiB limit are valid input, but short ones
# find the parser's corners faster.
run-policy: $(FUZZ_OUT)/fuzz_policy
	@mkdir -p $(FUZZ_OUT)/corpus/policy
	$(FUZZ_OUT)/fuzz_policy -max_total_time=$(FUZZ_TIME) -timeout=5 -rss_limit_mb=2048 \
		-max_len=16384 -artifact_prefix=$(FUZZ_OUT)/policy- $(FUZZ_OUT)/corpus/policy \
		$(POLICY_SEEDS)

$(FUZZ_OUT)/fuzz_ctlproto: tests/fuzz/fuzz_ctlproto.c $(CTL_SRC) common/fc_ctlproto.h
	@mkdir -p $(FUZZ_OUT)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ tests/fuzz/fuzz_ctlproto.c $(CTL_SRC) $(CTL_LIBS)

$(FUZZ_OUT)/fuzz_ctlproto_replay: tests/fuzz/fuzz_ctlproto.c tests/fuzz/standalone_main.c \
		$(CTL_SRC) common/fc_ctlproto.h
	@mkdir -p $(FUZZ_OUT)
	$(GCC) $(FUZZ_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all \
		-o $@ tests/fuzz/fuzz_ctlproto.c tests/fuzz/standalone_main.c $(CTL_SRC) $(CTL_LIBS)

replay-ctlproto: $(FUZZ_OUT)/fuzz_ctlproto_replay
	$(FUZZ_OUT)/fuzz_ctlproto_replay $(CTL_SEEDS)

run-ctlproto: $(FUZZ_OUT)/fuzz_ctlproto
	@mkdir -p $(FUZZ_OUT)/corpus/ctlproto
	$(FUZZ_OUT)/fuzz_ctlproto -max_total_time=$(FUZZ_TIME) -timeout=5 -rss_limit_mb=2048 \
		-artifact_prefix=$(FUZZ_OUT)/ctlproto- $(FUZZ_OUT)/corpus/ctlproto $(CTL_SEEDS)

$(FUZZ_OUT)/fuzz_http: tests/fuzz/fuzz_http.c $(HTTP_SRC) $(HTTP_HDR)
	@mkdir -p $(FUZZ_OUT)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ tests/fuzz/fuzz_http.c $(HTTP_SRC) $(POLICY_LIBS)

$(FUZZ_OUT)/fuzz_http_replay: tests/fuzz/fuzz_http.c tests/fuzz/standalone_main.c \
		$(HTTP_SRC) $(HTTP_HDR)
	@mkdir -p $(FUZZ_OUT)
	$(GCC) $(FUZZ_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all \
		-o $@ tests/fuzz/fuzz_http.c tests/fuzz/standalone_main.c $(HTTP_SRC) \
		$(POLICY_LIBS)

replay-http: $(FUZZ_OUT)/fuzz_http_replay
	$(FUZZ_OUT)/fuzz_http_replay $(HTTP_SEEDS)

# -max_len: heads up to 64 KiB are valid, but short inputs reach the
# parser's corners faster; the limits have their own unit tests.
run-http: $(FUZZ_OUT)/fuzz_http
	@mkdir -p $(FUZZ_OUT)/corpus/http
	$(FUZZ_OUT)/fuzz_http -max_total_time=$(FUZZ_TIME) -timeout=5 -rss_limit_mb=2048 \
		-max_len=8192 -artifact_prefix=$(FUZZ_OUT)/http- $(FUZZ_OUT)/corpus/http \
		$(HTTP_SEEDS)
