# ForkCell: one non-recursive GNU make.
#
#   make            build forkcellfs and forkcellctl into build/release/
#   make check      build, then run unit and integration tests under prove
#   make asan       build into build/asan/ with ASan+UBSan
#   make check-asan run the integration tests with the sanitized binaries
#   make fuzz       build libFuzzer targets with clang into build/fuzz/
#   make bench      run the benchmarks (bench/run.sh, bench/proxy.sh)
#   make check-long 100 000 requests through the ASan proxy (leaks, fds)
#   make lint       cppcheck over our C (CI runs it; any finding fails)
#   make docker-image  build forkcell-sandbox:latest for --runtime docker
#   make install    install the programs into $(DESTDIR)$(PREFIX)/bin
#
# Sources are discovered by wildcard: common/*.c -> libforkcell.a,
# fs/*.c -> forkcellfs, ctl/*.c -> forkcellctl, ctl/proxy/*.c ->
# forkcell-proxy (the egress proxy), ctl/init/*.c -> forkcell-init (the
# sandbox's first process: static, so it runs in any container image),
# tests/unit/t_*.c -> one TAP program each. V=1 shows the commands.

VARIANT ?= release
BUILD := build/$(VARIANT)
PREFIX ?= /usr/local
WERROR ?= 1

CC ?= cc
PKGS := fuse3 lmdb libxxhash libcjson openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wold-style-definition -Wvla -Wwrite-strings -Wpointer-arith -Wimplicit-fallthrough \
	-Wundef -Wcast-align -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

BASE_CFLAGS := -std=gnu11 -g -D_GNU_SOURCE -DFUSE_USE_VERSION=314 -pthread \
	-Icommon $(PKG_CFLAGS) $(WARN) -MMD -MP
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection \
	-fcf-protection -fPIE
ifeq ($(VARIANT),asan)
OPT := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDOPT := -fsanitize=address,undefined
else
OPT := -O2 $(HARDEN)
LDOPT := -pie -Wl,-z,relro,-z,now
endif
CFLAGS_ALL := $(BASE_CFLAGS) $(OPT) $(CFLAGS)
LDFLAGS_ALL := -pthread -Wl,--as-needed $(LDOPT) $(LDFLAGS)
# libcurl is dlopen()ed by the docker runtime (ctl/curl_lazy.c), not linked.
LIBS := $(PKG_LIBS) -lyaml -lseccomp -lm -ldl

ifeq ($(V),1)
Q :=
else
Q := @
endif

COMMON_SRC := $(sort $(wildcard common/*.c))
FS_SRC := $(sort $(wildcard fs/*.c))
CTL_SRC := $(sort $(wildcard ctl/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/t_*.c))
TESTLIB_SRC := $(sort $(filter-out tests/unit/t_%.c,$(wildcard tests/unit/*.c)))
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
PROXY_SRC := $(sort $(wildcard ctl/proxy/*.c))
INIT_SRC := $(sort $(wildcard ctl/init/*.c))

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
FS_OBJ := $(FS_SRC:%.c=$(BUILD)/%.o)
CTL_OBJ := $(CTL_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:%.c=$(BUILD)/%.t)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/%.o)
HELPER_BIN := $(HELPER_SRC:%.c=$(BUILD)/%)
PROXY_OBJ := $(PROXY_SRC:%.c=$(BUILD)/%.o)

LIBFC := $(BUILD)/libforkcell.a
FS_BIN := $(BUILD)/forkcellfs
CTL_BIN := $(BUILD)/forkcellctl
PROXY_BIN := $(if $(PROXY_SRC),$(BUILD)/forkcell-proxy)
INIT_BIN := $(if $(INIT_SRC),$(BUILD)/forkcell-init)
PROXY_LIBS := $(shell pkg-config --libs libevent_openssl libevent_core 2>/dev/null)
# forkcell-init is linked statically and never sanitized: it is bound into
# containers whose images have no glibc, and it must stay tiny.
INIT_CFLAGS := -std=gnu11 -g -O2 -D_GNU_SOURCE $(WARN) $(HARDEN) -MMD -MP

# Keep intermediate objects (tap.o) so unit tests do not relink every time.
.SECONDARY:

.PHONY: all check check-unit check-asan check-long asan fuzz bench install clean lint docker-image
all: $(FS_BIN) $(CTL_BIN) $(PROXY_BIN) $(INIT_BIN) $(UNIT_BIN) $(HELPER_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(LIBFC): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FS_BIN): $(FS_OBJ) $(LIBFC)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(FS_OBJ) $(LIBFC) $(LIBS)

$(CTL_BIN): $(CTL_OBJ) $(LIBFC)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(CTL_OBJ) $(LIBFC) $(LIBS)

$(PROXY_BIN): $(PROXY_OBJ) $(LIBFC)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(PROXY_OBJ) $(LIBFC) $(PROXY_LIBS) $(LIBS)

$(BUILD)/init/%.o: ctl/init/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(INIT_CFLAGS) -c -o $@ $<

$(INIT_BIN): $(INIT_SRC:ctl/init/%.c=$(BUILD)/init/%.o)
	@$(if $(Q),echo "  LD      $@ (static)")
	$(Q)$(CC) -static -o $@ $^ -lseccomp

$(BUILD)/tests/unit/%.t: $(BUILD)/tests/unit/%.o $(TESTLIB_OBJ) $(LIBFC)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(TESTLIB_OBJ) $(LIBFC) $(LIBS)

$(BUILD)/tests/helpers/%: $(BUILD)/tests/helpers/%.o $(LIBFC)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBFC) $(LIBS)

# The integration tests find the binaries through FORKCELL_BIN.
PROVE := prove -j2 --timer
INTEGRATION := $(sort $(wildcard tests/integration/t[0-9]*.sh))

# The saved fuzz inputs are replayed (gcc + ASan/UBSan) before the tests.
check: all
	$(MAKE) --no-print-directory -f tests/fuzz/fuzz.mk replay replay-policy replay-ctlproto replay-http
	FORKCELL_BIN=$(CURDIR)/$(BUILD) $(PROVE) --exec '' $(UNIT_BIN) $(INTEGRATION)

check-unit: all
	$(PROVE) --exec '' $(UNIT_BIN)

asan:
	$(MAKE) VARIANT=asan all

check-asan:
	$(MAKE) VARIANT=asan check

fuzz:
	$(MAKE) -f tests/fuzz/fuzz.mk

bench: all
	FORKCELL_BIN=$(CURDIR)/$(BUILD) bench/run.sh
	FORKCELL_BIN=$(CURDIR)/$(BUILD) bench/proxy.sh

# Long-running checks (about 35 s; CI runs them after check-asan): 100 000
# requests through the ASan-built proxy, then its descriptors and leak report.
check-long:
	$(MAKE) VARIANT=asan all
	FORKCELL_BIN=$(CURDIR)/build/asan $(PROVE) --exec '' tests/long/*.sh

# Static analysis of our own C only: no system include path is given, so
# cppcheck reads our headers and tests/lint/cppcheck-defs.h for the one
# library macro it must understand.
LINT_DIRS := common fs ctl tests/unit tests/fuzz tests/helpers bench
lint:
	cppcheck --quiet --enable=warning,portability --std=c11 --inline-suppr \
		-D_GNU_SOURCE -DFUSE_USE_VERSION=314 -Icommon -Ifs -Ictl \
		--include=tests/lint/cppcheck-defs.h --error-exitcode=1 $(LINT_DIRS)

install: $(FS_BIN) $(CTL_BIN) $(PROXY_BIN) $(INIT_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $^ $(DESTDIR)$(PREFIX)/bin/

# The local sandbox image for the docker runtime (docker import of a rootfs
# made from Debian packages; no registry needed).
docker-image:
	scripts/docker-image.sh

clean:
	rm -rf build

-include $(COMMON_OBJ:.o=.d) $(FS_OBJ:.o=.d) $(CTL_OBJ:.o=.d) $(UNIT_BIN:.t=.d) \
	$(PROXY_OBJ:.o=.d) $(INIT_SRC:ctl/init/%.c=$(BUILD)/init/%.d) \
	$(HELPER_BIN:=.d)
