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
# make test SANITIZE=1: user space built with ASan + UBSan (float casts too), the first finding
# fatal. Objects are rebuilt whenever these flags change (see $(OUT)/.flags).
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer
export ASAN_OPTIONS ?= abort_on_error=1:detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export RAGD_BPFPROF_SANITIZED := 1
endif
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
CXX_TARGET_SRCS := $(wildcard tests/targets/*.cc)
TARGET_BINS += $(patsubst tests/targets/%.cc,$(OUT)/targets/%,$(CXX_TARGET_SRCS))

.PHONY: all deps build test unit integration demo install clean bench vmtest fuzz fuzz-bins FORCE

all: deps build

# Installs missing Debian packages (no-op when all are there; needs root otherwise).
deps:
	@tools/deps.sh

build: ragd-bpfprof

ragd-bpfprof: $(USER_OBJS) $(OUT)/.flags
	$(CC) $(CFLAGS) -o $@ $(USER_OBJS) $(LIBS)

# Rewritten only when the compiler or flags change (SANITIZE=1 and back), forcing a rebuild.
$(OUT)/.flags: FORCE | $(OUT)
	@echo '$(CC) $(CFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS)' > $@

$(OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(wildcard include/*.h) | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

# Kept: as intermediates make deleted them, and then a change to bpf/ alone rebuilt neither the
# skeleton nor the user objects that embed it.
.SECONDARY: $(SKELS) $(SKELS:.skel.h=.bpf.o)

$(OUT)/user/%.o: user/%.c $(wildcard user/*.h) $(wildcard include/*.h) $(SKELS) $(OUT)/.flags | $(OUT)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/tests/%: tests/unit/%.c $(LIB_OBJS) $(wildcard tests/unit/*.h) $(OUT)/.flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB_OBJS) $(LIBS) -lcmocka

# Small C programs the integration tests profile: symbols kept, no inlining of probed functions.
$(OUT)/targets/%: tests/targets/%.c
	@mkdir -p $(@D)
	$(CC) -O1 -g -fno-inline -fno-omit-frame-pointer -pthread -o $@ $< -lm

# C++ targets (exceptions through probed functions): -O2 so the code looks like a real build.
$(OUT)/targets/%: tests/targets/%.cc
	@mkdir -p $(@D)
	$(CXX) -O2 -g -o $@ $<

$(OUT):
	@mkdir -p $(OUT)/user $(OUT)/tests $(OUT)/targets

unit: $(UNIT_BINS)

integration-bins: ragd-bpfprof $(TARGET_BINS)

# Unit tests need no root; integration tests load real BPF and skip visibly without root.
test: deps
	@$(MAKE) --no-print-directory build unit integration-bins
	@$(PYTHON) tests/run_tests.py $(UNIT_BINS)

# The integration tests inside QEMU guests on Debian 13 and 12 (tests/vm, docs/testing.md; root).
vmtest: deps
	@$(MAKE) --no-print-directory build integration-bins
	@$(PYTHON) tests/vm/vmtest.py $(GUESTS)

# libFuzzer harnesses (tests/fuzz): the session reader + report/compare, probe specs, ELF
# readers. `make fuzz FUZZ_SECONDS=60` runs each that long from the seeds in tests/fuzz/corpus;
# new inputs go to $(OUT)/fuzz/corpus-NAME, findings to $(OUT)/fuzz/NAME-crash-*.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= $(CLANG)
FUZZ_OUT := $(OUT)/fuzz
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined,float-cast-overflow \
	-fno-sanitize-recover=all -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser
FUZZ_LIB_OBJS := $(patsubst %,$(FUZZ_OUT)/%.o,session spill json stats report compare spec symbols util output x86len)
FUZZERS := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_OUT)/%.o: user/%.c $(wildcard user/*.h) $(wildcard include/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) $(LIBS)

.SECONDARY: $(FUZZ_LIB_OBJS)

fuzz-bins: $(FUZZERS)

fuzz: fuzz-bins
	@rc=0; for f in $(FUZZERS); do n=$${f##*/fuzz_}; mkdir -p $(FUZZ_OUT)/corpus-$$n; \
		echo "fuzz $$n: $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/$$n- \
			$(FUZZ_OUT)/corpus-$$n tests/fuzz/corpus/$$n >$(FUZZ_OUT)/$$n.log 2>&1 || \
			{ rc=1; echo "fuzz $$n: FINDING (see $(FUZZ_OUT)/$$n.log)"; tail -n 40 $(FUZZ_OUT)/$$n.log; }; \
		grep -E '^stat::number_of_executed_units|^Done' $(FUZZ_OUT)/$$n.log | tr '\n' ' '; echo; \
	done; exit $$rc

# demo.sh builds (into its log, so the screen keeps the story) and runs the workload.
demo: deps
	@examples/ragd-lite/demo.sh

bench: build
	@tools/bench/run.sh

install: build
	install -D -m 0755 ragd-bpfprof $(DESTDIR)$(PREFIX)/sbin/ragd-bpfprof
	install -D -m 0644 docs/ragd-bpfprof.8 $(DESTDIR)$(PREFIX)/share/man/man8/ragd-bpfprof.8

clean:
	rm -rf $(OUT) ragd-bpfprof
