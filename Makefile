# reel: one top-level Makefile.  `make test` is the only command a newcomer
# needs: it checks (and on Debian, as root, installs) the dependencies,
# builds the float and double libraries and runs the whole suite.
#
# Targets: all test asan valgrind fuzz bench run docs clean deps.  WERROR=0
# relaxes -Werror.  The program: build/f/reel (train, eval, decode, sample,
# predict, plot, info, check, list, grad, gradcheck; see README.md).
# Experiments: build/f/reel_bench.

CC      ?= cc
WERROR  ?= 1
OPT     ?= -O3 -march=native
WARN    := -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror)
INCS    := -Iengine -Ilayers -Ioptim -Imodels
CFLAGS_BASE := -std=c11 -D_POSIX_C_SOURCE=200809L -g $(WARN) $(INCS) -MMD -MP
LDLIBS  := -lblis -lcjson -lm
SAN     := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow

LIB_SRCS  := $(wildcard engine/*.c layers/*.c optim/*.c) $(filter-out models/main.c,$(wildcard models/*.c))
TEST_SRCS := $(wildcard test/*.c) bench/hand.c
BENCH_SRCS := $(wildcard bench/*.c)

# Six builds: float and double, plain, sanitized and for valgrind (no
# -march=native: valgrind cannot decode AVX-512).  Each has its own object
# directory; the double build (-DREEL_DOUBLE) runs the gradient checks.
VARIANTS := f d asan-f asan-d vg-f vg-d
FLAGS_f      := $(OPT)
FLAGS_d      := $(OPT) -DREEL_DOUBLE
FLAGS_asan-f := -O1 $(SAN)
FLAGS_asan-d := -O1 $(SAN) -DREEL_DOUBLE
FLAGS_vg-f   := -O1
FLAGS_vg-d   := -O1 -DREEL_DOUBLE
# (--show-possibly-lost=no: BLIS's OpenMP thread pool keeps its blocks to the end)
VALGRIND := valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-possibly-lost=no -q

DEPS_OK := build/.deps-ok

.PHONY: all test asan valgrind fuzz fuzz-build bench run docs clean deps
all: build/f/libreel.a build/d/libreel.a build/f/reel build/d/reel build/f/reel_bench

define variant
build/$(1)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $$(dir $$@)
	@echo "  CC [$(1)] $$<"
	@$$(CC) $$(CFLAGS_BASE) $$(FLAGS_$(1)) -c $$< -o $$@

build/$(1)/libreel.a: $$(LIB_SRCS:%.c=build/$(1)/%.o)
	@rm -f $$@
	@ar rcs $$@ $$^

build/$(1)/reel_tests: $$(TEST_SRCS:%.c=build/$(1)/%.o) build/$(1)/libreel.a
	@echo "  LD [$(1)] $$@"
	@$$(CC) $$(FLAGS_$(1)) -o $$@ $$^ $$(LDLIBS)

-include $$(shell find build/$(1) -name '*.d' 2>/dev/null)
endef
$(foreach v,$(VARIANTS),$(eval $(call variant,$(v))))

build/f/reel_bench: $(BENCH_SRCS:%.c=build/f/%.o) build/f/libreel.a
	@$(CC) $(FLAGS_f) -o $@ $^ $(LDLIBS)

build/f/reel: build/f/models/main.o build/f/libreel.a
	@echo "  LD [f] $@"
	@$(CC) $(FLAGS_f) -o $@ $^ $(LDLIBS)

# the double build of the program, for `reel gradcheck`
build/d/reel: build/d/models/main.o build/d/libreel.a
	@echo "  LD [d] $@"
	@$(CC) $(FLAGS_d) -o $@ $^ $(LDLIBS)

test: build/f/reel_tests build/d/reel_tests build/f/reel build/d/reel build/svgcheck
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then $(MAKE) --no-print-directory fuzz-build; fi
	@sh test/run.sh build/f/reel_tests build/d/reel_tests test/cli.sh test/infer.sh test/fuzz/short.sh

asan: build/asan-f/reel_tests build/asan-d/reel_tests build/asan-f/reel build/d/reel build/svgcheck
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 REEL=build/asan-f/reel \
		sh test/run.sh build/asan-f/reel_tests build/asan-d/reel_tests test/cli.sh test/infer.sh

# The tests' XML well-formedness checker for the SVGs reel writes (test/infer.sh).
build/svgcheck: test/tools/svgcheck.c | $(DEPS_OK)
	@echo "  LD $@"
	@$(CC) $(CFLAGS_BASE) -O1 $(SAN) -o $@ $<

build/asan-f/reel: build/asan-f/models/main.o build/asan-f/libreel.a
	@echo "  LD [asan-f] $@"
	@$(CC) $(FLAGS_asan-f) -o $@ $^ $(LDLIBS)

# The main job: train the default model (bidirectional LSTM encoder,
# additive attention, LSTM decoder on date normalisation) and show what it
# learned.  CONFIG=... RUN=... choose another config and run directory.
CONFIG ?= configs/dates-attention.json
RUN    ?= runs/$(basename $(notdir $(CONFIG)))
run: build/f/reel
	@build/f/reel train $(CONFIG) -o $(RUN) --force

# The suite under valgrind memcheck (minutes, not seconds).  REEL_QUICK=1
# skips the cases that call th_slow() (the learning tests, the SIGKILL
# resume tests, the every-allocation fault loops of a training step: each
# seconds natively, tens of minutes under memcheck; make test and make asan
# run them); the summary says how many were skipped.  REEL_QUICK=0 runs all.
REEL_QUICK ?= 1
valgrind: build/vg-f/reel_tests build/vg-d/reel_tests
	@command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)"; exit 1; }
	@REEL_QUICK=$(REEL_QUICK) RUNNER="$(VALGRIND)" sh test/run.sh build/vg-f/reel_tests build/vg-d/reel_tests

# Fuzzing with clang's libFuzzer under ASan and UBSan: each target in
# test/fuzz/ runs FUZZ_SECONDS from its committed seed corpus
# (test/fuzz/corpus/<name>/); new inputs go to build/fuzz/corpus/<name>/,
# crashes to build/fuzz/crash-*.  A crash found becomes a regression test
# (and a seed); make test runs each target a few seconds (test/fuzz/short.sh)
# when clang is present.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -O1 -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow
FUZZ_TARGETS := $(patsubst test/fuzz/fuzz_%.c,%,$(wildcard test/fuzz/fuzz_*.c))

build/fuzz/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	@echo "  CC [fuzz] $<"
	@$(FUZZ_CC) $(CFLAGS_BASE) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

.PRECIOUS: build/fuzz/%.o

build/fuzz/libreel.a: $(patsubst %.c,build/fuzz/%.o,$(LIB_SRCS))
	@rm -f $@
	@ar rcs $@ $^

build/fuzz/fuzz_%: build/fuzz/test/fuzz/fuzz_%.o build/fuzz/libreel.a
	@echo "  LD [fuzz] $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

-include $(shell find build/fuzz -name '*.d' 2>/dev/null)

fuzz-build: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: $(FUZZ_CC) not installed"; exit 1; }
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus/$$t; \
		echo "  FUZZ $$t for $(FUZZ_SECONDS) s"; \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
			-artifact_prefix=build/fuzz/ build/fuzz/corpus/$$t test/fuzz/corpus/$$t \
			> build/fuzz/$$t.log 2>&1 || { tail -n 40 build/fuzz/$$t.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^Done' build/fuzz/$$t.log; \
	done

# The benchmark: tape overhead, the grid at 1 and 2 threads (reel's tape,
# the hand-written step, the GEMM floor; JSON in build/bench.json), the same
# cases in PyTorch beside them when Debian's python3-torch is installed, and
# one model trained end to end.  Reports only; nothing here asserts a time.
bench: build/f/reel_bench
	@build/f/reel_bench overhead
	@echo
	@build/f/reel_bench grid --json > build/bench.json
	@if /usr/bin/python3 -c 'import json' 2>/dev/null; then \
		/usr/bin/python3 bench/torch_bench.py build/bench.json; \
	else \
		echo "no /usr/bin/python3: the grid's numbers are in build/bench.json"; \
	fi
	@echo
	@build/f/reel_bench train --steps 200
	@echo
	@build/f/reel_bench decode --steps 300
	@build/f/reel_bench forward --cell lstm --T 50 --B 32 --H 256
	@if /usr/bin/python3 -c 'import torch' 2>/dev/null; then \
		/usr/bin/python3 bench/torch_forward.py lstm 50 32 256; fi

# configs/README.md carries `reel list` (every config key); a test checks it.
docs: build/f/reel
	@sh test/reel_list_doc.sh build/f/reel

# Dependencies: Debian's libblis-dev and libcjson-dev.  Checked by compiling
# and linking a probe; installed with apt-get when missing and possible.
deps: $(DEPS_OK)
$(DEPS_OK):
	@mkdir -p build
	@probe() { printf '#include <blis.h>\n#include <cjson/cJSON.h>\nint main(void){bli_init();cJSON_Delete(cJSON_CreateNull());return 0;}\n' \
		| $(CC) -x c - -o build/.probe $(LDLIBS) 2>/dev/null; }; \
	if ! probe; then \
		pkgs="libblis-dev libcjson-dev"; \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "deps: BLIS or cJSON missing; installing $$pkgs with apt-get"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null || exit 1; \
		elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
			echo "deps: BLIS or cJSON missing; installing $$pkgs with sudo apt-get"; \
			sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null || exit 1; \
		else \
			echo "deps: BLIS or cJSON missing. Install them with:"; \
			echo "  sudo apt-get install -y $$pkgs"; exit 1; \
		fi; \
		probe || { echo "deps: still cannot build against BLIS and cJSON"; exit 1; }; \
	fi; rm -f build/.probe; touch $@

clean:
	rm -rf build
