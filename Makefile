# reel: one top-level Makefile.  `make test` is the only command a newcomer
# needs: it checks (and on Debian, as root, installs) the dependencies,
# builds the float and double libraries and runs the whole suite.
#
# Targets: all test asan bench run clean deps.  WERROR=0 relaxes -Werror.
# The program: build/f/reel (train, eval, info, check, list; see README.md).
# Experiments: build/f/reel_bench.

CC      ?= cc
WERROR  ?= 1
OPT     ?= -O3 -march=native
WARN    := -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror)
INCS    := -Iengine -Ilayers -Ioptim -Imodels
CFLAGS_BASE := -std=c11 -D_POSIX_C_SOURCE=200809L -g $(WARN) $(INCS) -MMD -MP
LDLIBS  := -lblis -lcjson -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRCS  := $(wildcard engine/*.c layers/*.c optim/*.c) $(filter-out models/main.c,$(wildcard models/*.c))
TEST_SRCS := $(filter-out test/stcmp.c,$(wildcard test/*.c)) bench/hand.c
BENCH_SRCS := $(wildcard bench/*.c)

# Four builds: float and double, plain and sanitized.  Each has its own
# object directory; the double build (-DREEL_DOUBLE) runs the gradient checks.
VARIANTS := f d asan-f asan-d
FLAGS_f      := $(OPT)
FLAGS_d      := $(OPT) -DREEL_DOUBLE
FLAGS_asan-f := -O1 $(SAN)
FLAGS_asan-d := -O1 $(SAN) -DREEL_DOUBLE

DEPS_OK := build/.deps-ok

.PHONY: all test asan bench run docs clean deps
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

test: build/f/reel_tests build/d/reel_tests build/f/reel build/d/reel build/stcmp
	@sh test/run.sh build/f/reel_tests build/d/reel_tests test/cli.sh test/interop.sh

asan: build/asan-f/reel_tests build/asan-d/reel_tests build/asan-f/reel build/asan-d/reel build/stcmp
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 REEL=build/asan-f/reel \
		sh test/run.sh build/asan-f/reel_tests build/asan-d/reel_tests test/cli.sh
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 REEL=build/asan-f/reel REEL_D=build/asan-d/reel \
		sh test/run.sh test/interop.sh

build/asan-f/reel: build/asan-f/models/main.o build/asan-f/libreel.a
	@echo "  LD [asan-f] $@"
	@$(CC) $(FLAGS_asan-f) -o $@ $^ $(LDLIBS)

build/asan-d/reel: build/asan-d/models/main.o build/asan-d/libreel.a
	@echo "  LD [asan-d] $@"
	@$(CC) $(FLAGS_asan-d) -o $@ $^ $(LDLIBS)

# compares two safetensors files tensor by tensor (test/interop.sh: reel grad vs PyTorch)
build/stcmp: build/d/test/stcmp.o build/d/libreel.a
	@echo "  LD [d] $@"
	@$(CC) $(FLAGS_d) -o $@ $^ $(LDLIBS)

# The main job: train the default model (bidirectional LSTM encoder,
# additive attention, LSTM decoder on date normalisation) and show what it
# learned.  CONFIG=... RUN=... choose another config and run directory.
CONFIG ?= configs/dates-attention.json
RUN    ?= runs/$(basename $(notdir $(CONFIG)))
run: build/f/reel
	@build/f/reel train $(CONFIG) -o $(RUN) --force

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
