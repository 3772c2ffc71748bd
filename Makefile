# ragd-bpfprof: C + eBPF profiler for ragd. `make` builds, `make test` tests, `make demo` demos.
PREFIX ?= /usr/local
DESTDIR ?=
OUT := .output
CC ?= cc
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
PYTHON ?= python3

CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(OUT)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux -Iinclude -Ibpf \
	-I/usr/include/$(MULTIARCH) -Wall -Wno-unused-function
# libbpf, libelf and zlib static (Debian ships the archives); cJSON and libc dynamic.
LIBS := -Wl,-Bstatic -lbpf -lelf -lz -lzstd -Wl,-Bdynamic -lcjson -lm -lpthread

BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))
LIB_OBJS := $(filter-out $(OUT)/user/cli.o $(OUT)/user/profile.o,$(USER_OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
TARGET_SRCS := $(wildcard tests/targets/*.c)
TARGET_BINS := $(patsubst tests/targets/%.c,$(OUT)/targets/%,$(TARGET_SRCS))

.PHONY: all deps build test unit integration demo install clean bench

all: deps build

# Installs missing Debian packages (no-op when all are there; needs root otherwise).
deps:
	@tools/deps.sh

build: ragd-bpfprof

ragd-bpfprof: $(USER_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(wildcard include/*.h) | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

$(OUT)/user/%.o: user/%.c $(wildcard user/*.h) $(wildcard include/*.h) $(SKELS) | $(OUT)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/tests/%: tests/unit/%.c $(LIB_OBJS) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB_OBJS) $(LIBS) -lcmocka

# Small C programs the integration tests profile: symbols kept, no inlining of probed functions.
$(OUT)/targets/%: tests/targets/%.c
	@mkdir -p $(@D)
	$(CC) -O1 -g -fno-inline -fno-omit-frame-pointer -pthread -o $@ $< -lm

$(OUT):
	@mkdir -p $(OUT)/user $(OUT)/tests $(OUT)/targets

unit: $(UNIT_BINS)

integration-bins: ragd-bpfprof $(TARGET_BINS)

# Unit tests need no root; integration tests load real BPF and skip visibly without root.
test: deps
	@$(MAKE) --no-print-directory build unit integration-bins
	@$(PYTHON) tests/run_tests.py $(UNIT_BINS)

demo: deps
	@$(MAKE) --no-print-directory build
	@examples/ragd-lite/demo.sh

bench: build
	@tools/bench/run.sh

install: build
	install -D -m 0755 ragd-bpfprof $(DESTDIR)$(PREFIX)/sbin/ragd-bpfprof
	install -D -m 0644 docs/ragd-bpfprof.8 $(DESTDIR)$(PREFIX)/share/man/man8/ragd-bpfprof.8

clean:
	rm -rf $(OUT) ragd-bpfprof
