# reel: one top-level Makefile.  `make test` is the only command a newcomer
# needs: it checks (and on Debian, as root, installs) the dependencies,
# builds the float and double libraries and runs the whole suite.
#
# Targets: all test asan valgrind fuzz bench run docs install clean deps
# data results.
# WERROR=0 relaxes -Werror; NATIVE=1 adds -march=native (objects in
# build-native/).  The program: build/f/reel (train, eval, decode, sample,
# predict, baseline, plot, info, check, list, grad, gradcheck; see
# README.md) and its double build build/d/reel.  Experiments: build/f/reel_bench.

CC      ?= cc
CXX     ?= c++
WERROR  ?= 1
# Portable by default; NATIVE=1 adds -march=native (see README.md for what
# it changes on this machine).  NATIVE=1 builds into build-native/ so the
# two never mix objects.
NATIVE  ?= 0
OPT     ?= -O3 $(if $(filter 1,$(NATIVE)),-march=native)
B       := $(if $(filter 1,$(NATIVE)),build-native,build)
WARN    := -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror)
# -ffp-contract=off: no a * b + c fused into one rounding, so the
# elementwise kernels' clones (engine/fastmath.h, REEL_CLONES) compute the
# same bits on every CPU.
# Sources include public headers by their short names ("tensor.h"); a
# program includes them as <reel/reel.h>.
INCS    := -Iinclude/reel -Iinclude -Iengine -Imodels
CFLAGS_BASE := -std=c11 -ffp-contract=off -D_POSIX_C_SOURCE=200809L -g $(WARN) $(INCS) -MMD -MP -fPIC -fno-semantic-interposition
LIB_LDLIBS := -lblis -lcjson -lm -lgomp
# The engine's row-parallel loops (reel__par_rows, engine/threads.c) use
# OpenMP, the thread pool Debian's BLIS runs its products on: that file is
# compiled with -fopenmp (gcc builds; the clang fuzz build runs the rows on
# one thread) and everything links libgomp.
OMP_SRCS := engine/threads.c
# Programs (reel, the tests, reel_bench) link BLIS statically when its
# archive is installed: only libblis.a exports the per-architecture kernel
# sets the matmul planner chooses among (DESIGN.md, "Matrix products").
# The shared libreel links the shared BLIS and plans with fewer candidates.
BLIS_A  := $(shell $(CC) -print-file-name=libblis.a)
LDLIBS  := $(if $(wildcard $(BLIS_A)),$(BLIS_A) -lgomp -lpthread -lcjson -lm,$(LIB_LDLIBS)) -lz
# (-lz: models/ reads gzipped data files with zlib: the data sources, data_idx.c)
SAN     := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow

VERSION := 0.3.0
SOMAJOR := 0

# libreel: the engine, the layers and the optimizers (BLIS, cJSON for
# safetensors headers, libm).  libreel_models: configs, data, training
# loops, the CLI's verbs; linked into the reel program and the tests, not
# installed (see DESIGN.md).
LIB_SRCS    := $(wildcard engine/*.c layers/*.c optim/*.c)
MODELS_SRCS := $(filter-out models/main.c models/reduce_mpi.c,$(wildcard models/*.c))

# MPI (data-parallel `mpirun -np N reel train`): Open MPI's compile and link
# flags from its mpicc wrapper, looked up when used (after `deps` may have
# installed it).  Only the program links MPI (models/reduce_mpi.c), never a
# library; without Open MPI the program is built without it and trains as
# one process.
MPI_CFLAGS = $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS   = $(shell mpicc --showme:link 2>/dev/null)
MPI_DEF    = $(if $(MPI_LIBS),-DREEL_HAVE_MPI $(MPI_CFLAGS))
TEST_SRCS   := $(filter-out test/stcmp.c,$(wildcard test/*.c)) bench/hand.c
BENCH_SRCS  := $(wildcard bench/*.c)
PUBLIC_HEADERS := $(wildcard include/reel/*.h)

# Six builds: float and double, plain, sanitized and for valgrind (-O1, no
# -march=native even with NATIVE=1: valgrind cannot decode AVX-512).  Each
# has its own object directory; the double build (-DREEL_DOUBLE,
# libreel_f64) runs the gradient checks.
VARIANTS := f d asan-f asan-d vg-f vg-d
FLAGS_f      := $(OPT)
FLAGS_d      := $(OPT) -DREEL_DOUBLE
FLAGS_asan-f := -O1 $(SAN)
FLAGS_asan-d := -O1 $(SAN) -DREEL_DOUBLE
FLAGS_vg-f   := -O1
FLAGS_vg-d   := -O1 -DREEL_DOUBLE
LIB_f      := reel
LIB_d      := reel_f64
LIB_asan-f := reel
LIB_asan-d := reel_f64
LIB_vg-f   := reel
LIB_vg-d   := reel_f64
# (--show-possibly-lost=no: BLIS's OpenMP thread pool keeps its blocks to the end)
VALGRIND := valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-possibly-lost=no -q

DEPS_OK := $(B)/.deps-ok
DEPS_MPI := $(B)/.deps-mpi

.PHONY: all test asan valgrind fuzz fuzz-build bench run docs clean deps install data results
all: $(B)/f/libreel.a $(B)/f/libreel.so $(B)/d/libreel_f64.a $(B)/d/libreel_f64.so $(B)/f/reel $(B)/d/reel $(B)/f/reel_bench

define variant
$(B)/$(1)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $$(dir $$@)
	@echo "  CC [$(1)] $$<"
	@$$(CC) $$(CFLAGS_BASE) $$(FLAGS_$(1)) $$(if $$(filter $$<,$(OMP_SRCS)),-fopenmp) -c $$< -o $$@

$(B)/$(1)/lib$(LIB_$(1)).a: $$(LIB_SRCS:%.c=$(B)/$(1)/%.o)
	@rm -f $$@
	@ar rcs $$@ $$^

# the shared library: soname lib<name>.so.$(SOMAJOR), file .so.$(VERSION)
$(B)/$(1)/lib$(LIB_$(1)).so: $$(LIB_SRCS:%.c=$(B)/$(1)/%.o) engine/libreel.map
	@echo "  LD [$(1)] $$@"
	@$$(CC) $$(FLAGS_$(1)) -shared -Wl,-soname,lib$(LIB_$(1)).so.$(SOMAJOR) -Wl,--no-undefined \
		-Wl,--version-script=engine/libreel.map -o $$@.$(VERSION) $$(filter %.o,$$^) $$(LIB_LDLIBS)
	@ln -sf lib$(LIB_$(1)).so.$(VERSION) $$@.$(SOMAJOR)
	@ln -sf lib$(LIB_$(1)).so.$(SOMAJOR) $$@

$(B)/$(1)/libreel_models.a: $$(MODELS_SRCS:%.c=$(B)/$(1)/%.o)
	@rm -f $$@
	@ar rcs $$@ $$^

$(B)/$(1)/reel_tests: $$(TEST_SRCS:%.c=$(B)/$(1)/%.o) $(B)/$(1)/libreel_models.a $(B)/$(1)/lib$(LIB_$(1)).a
	@echo "  LD [$(1)] $$@"
	@$$(CC) $$(FLAGS_$(1)) -o $$@ $$^ $$(LDLIBS)

# the MPI reducer: with Open MPI's flags when it is installed
$(B)/$(1)/models/reduce_mpi.o: models/reduce_mpi.c $(DEPS_MPI) | $(DEPS_OK)
	@mkdir -p $$(dir $$@)
	@echo "  CC [$(1)] $$<$$(if $$(MPI_LIBS),, (without MPI))"
	@$$(CC) $$(CFLAGS_BASE) $$(FLAGS_$(1)) $$(MPI_DEF) -c $$< -o $$@

$(B)/$(1)/reel: $(B)/$(1)/models/main.o $(B)/$(1)/models/reduce_mpi.o $(B)/$(1)/libreel_models.a $(B)/$(1)/lib$(LIB_$(1)).a
	@echo "  LD [$(1)] $$@"
	@$$(CC) $$(FLAGS_$(1)) -o $$@ $$^ $$(LDLIBS) $$(MPI_LIBS)

-include $$(shell find $(B)/$(1) -name '*.d' 2>/dev/null)
endef
$(foreach v,$(VARIANTS),$(eval $(call variant,$(v))))

$(B)/f/reel_bench: $(BENCH_SRCS:%.c=$(B)/f/%.o) $(B)/f/libreel_models.a $(B)/f/libreel.a
	@$(CC) $(FLAGS_f) -o $@ $^ $(LDLIBS)

# test/install.sh installs into a temporary DESTDIR and builds programs
# against it with pkg-config (C, C++, a scalar-type mismatch).
test: $(B)/f/reel_tests $(B)/d/reel_tests $(B)/f/reel $(B)/d/reel $(B)/svgcheck $(B)/stcmp \
      $(B)/f/libreel.so $(B)/d/libreel_f64.so $(B)/d/libreel_f64.a
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then $(MAKE) --no-print-directory fuzz-build; fi
	@REEL=$(B)/f/reel REEL_D=$(B)/d/reel SVGCHECK=$(B)/svgcheck STCMP=$(B)/stcmp REEL_MAKE="$(MAKE) NATIVE=$(NATIVE)" \
		sh test/run.sh $(B)/f/reel_tests $(B)/d/reel_tests test/cli.sh test/infer.sh test/interop.sh test/mpi.sh \
		test/install.sh test/fuzz/short.sh

asan: $(B)/asan-f/reel_tests $(B)/asan-d/reel_tests $(B)/asan-f/reel $(B)/asan-d/reel $(B)/svgcheck $(B)/stcmp
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 REEL=$(B)/asan-f/reel REEL_D=$(B)/asan-d/reel \
		SVGCHECK=$(B)/svgcheck STCMP=$(B)/stcmp \
		sh test/run.sh $(B)/asan-f/reel_tests $(B)/asan-d/reel_tests test/cli.sh test/infer.sh test/interop.sh test/mpi.sh

# compares two safetensors files tensor by tensor (test/interop.sh: reel grad vs PyTorch)
$(B)/stcmp: $(B)/d/test/stcmp.o $(B)/d/libreel_f64.a
	@echo "  LD [d] $@"
	@$(CC) $(FLAGS_d) -o $@ $^ $(LDLIBS)

# The tests' XML well-formedness checker for the SVGs reel writes (test/infer.sh).
$(B)/svgcheck: test/tools/svgcheck.c | $(DEPS_OK)
	@echo "  LD $@"
	@$(CC) $(CFLAGS_BASE) -O1 $(SAN) -o $@ $<

# The suite under valgrind memcheck (minutes, not seconds).  REEL_QUICK=1
# skips the cases that call th_slow() (the learning tests, the SIGKILL
# resume tests, the every-allocation fault loops of a training step: each
# seconds natively, tens of minutes under memcheck; make test and make asan
# run them); the summary says how many were skipped.  REEL_QUICK=0 runs all.
REEL_QUICK ?= 1
valgrind: $(B)/vg-f/reel_tests $(B)/vg-d/reel_tests
	@command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)"; exit 1; }
	@REEL_QUICK=$(REEL_QUICK) RUNNER="$(VALGRIND)" sh test/run.sh $(B)/vg-f/reel_tests $(B)/vg-d/reel_tests

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

build/fuzz/libreel.a: $(patsubst %.c,build/fuzz/%.o,$(LIB_SRCS) $(MODELS_SRCS))
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

# ---- install ----------------------------------------------------------------------
# make install PREFIX=/usr DESTDIR=/tmp/stage [LIBDIR=$(PREFIX)/lib/x86_64-linux-gnu]
# Headers go to $(INCLUDEDIR)/reel/, libreel.{so,a} and libreel_f64.{so,a}
# with their soname links to $(LIBDIR), reel.pc and reel_f64.pc to
# $(LIBDIR)/pkgconfig, the reel program to $(BINDIR).
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
PCDIR      ?= $(LIBDIR)/pkgconfig

# $(call pcfile,name,library,extra cflags,description)
define pcfile
prefix=$(PREFIX)
libdir=$(LIBDIR)
includedir=$(INCLUDEDIR)

Name: $(1)
Description: $(4)
Version: $(VERSION)
Cflags: -I$${includedir}$(3)
Libs: -L$${libdir} -l$(2)
Libs.private: $(LIB_LDLIBS)
endef
export PC_REEL := $(call pcfile,reel,reel,,reverse-mode autodiff with recurrent layers (float))
export PC_REEL_F64 := $(call pcfile,reel_f64,reel_f64, -DREEL_DOUBLE,reverse-mode autodiff with recurrent layers (double))

install: $(B)/f/libreel.a $(B)/f/libreel.so $(B)/d/libreel_f64.a $(B)/d/libreel_f64.so $(B)/f/reel
	@echo "  INSTALL $(DESTDIR)$(PREFIX)"
	@install -d $(DESTDIR)$(INCLUDEDIR)/reel $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(BINDIR)
	@install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/reel/
	@for l in $(B)/f/libreel $(B)/d/libreel_f64; do \
		n=$$(basename $$l); \
		install -m 644 $$l.a $(DESTDIR)$(LIBDIR)/ && \
		install -m 755 $$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/ && \
		ln -sf $$n.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$n.so.$(SOMAJOR) && \
		ln -sf $$n.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/$$n.so || exit 1; \
	done
	@printf '%s\n' "$$PC_REEL" > $(DESTDIR)$(PCDIR)/reel.pc
	@printf '%s\n' "$$PC_REEL_F64" > $(DESTDIR)$(PCDIR)/reel_f64.pc
	@install -m 755 $(B)/f/reel $(DESTDIR)$(BINDIR)/reel

# The main job: train the default model (bidirectional LSTM encoder,
# additive attention, LSTM decoder on date normalisation) and show what it
# learned.  CONFIG=... RUN=... choose another config and run directory.
CONFIG ?= configs/dates-attention.json
RUN    ?= runs/$(basename $(notdir $(CONFIG)))
run: $(B)/f/reel
	@$(B)/f/reel train $(CONFIG) -o $(RUN) --force

# The benchmark: tape overhead, the matmul planner's choices, a 1024^3
# product against the core's theoretical peak, the grid at 1 and 2 threads
# (reel's tape, the hand-written step, the GEMM floor; JSON in
# build/bench.json; it exits non-zero when the tape's gradients differ from
# the hand-written ones), the same cases in PyTorch when Debian's
# python3-torch is installed, the memory case in fresh processes, then
# bench/goals.py judges issue 14's goals from those files.  Then one model
# trained end to end.  Reports only; nothing here asserts a time.
# The 2-thread pass runs only the cases the threads goal is about (B = 32,
# H >= 256): with every case `make bench` took over 15 minutes here;
# BENCH_SECOND=all runs every case at 2 threads as well.
BENCH_SECOND ?= goal
BENCH_PY     := $(if $(wildcard /usr/bin/python3),/usr/bin/python3,python3)
bench: $(B)/f/reel_bench
	@rm -f $(B)/bench.json $(B)/bench_torch.json $(B)/bench_mem.json $(B)/bench_torch_mem.json $(B)/bench_peak.json
	@$(B)/f/reel_bench overhead
	@echo
	@$(B)/f/reel_bench plans
	@echo
	@$(B)/f/reel_bench peak --threads 2 --json > $(B)/bench_peak.json
	@$(B)/f/reel_bench peak --threads 2
	@echo
	@echo "The grid: the 2-thread pass runs $(if $(filter goal,$(BENCH_SECOND)),only the cases of the threads goal (B = 32 and H >= 256; BENCH_SECOND=goal),every case (BENCH_SECOND=all; BENCH_SECOND=goal runs only B = 32 and H >= 256))"
	@$(B)/f/reel_bench grid --threads 1,2 --second $(BENCH_SECOND) --json > $(B)/bench.json
	@if $(BENCH_PY) -c 'import json' 2>/dev/null; then \
		$(BENCH_PY) bench/torch_bench.py $(B)/bench.json --out $(B)/bench_torch.json; \
	else \
		echo "no python3: the grid's numbers are in $(B)/bench.json"; \
	fi
	@echo
	@$(B)/f/reel_bench rnn --cell lstm --T 200 --B 32 --H 512 --reps 1 --json > $(B)/bench_mem.json
	@if $(BENCH_PY) -c 'import json' 2>/dev/null; then \
		$(BENCH_PY) bench/torch_bench.py $(B)/bench_mem.json --reps 1 --out $(B)/bench_torch_mem.json \
			--title "The memory case, each side in a fresh process, 3 steps (the resident-set growth is the point here):"; \
		echo; \
		$(BENCH_PY) bench/goals.py $(B); \
	fi
	@echo
	@$(B)/f/reel_bench train --steps 200
	@echo
	@$(B)/f/reel_bench decode --steps 300
	@$(B)/f/reel_bench forward --cell lstm --T 50 --B 32 --H 256
	@if /usr/bin/python3 -c 'import torch' 2>/dev/null; then \
		/usr/bin/python3 bench/torch_forward.py lstm 50 32 256; fi

# Real data sets (README.md, "Results on real data"): `make data` downloads
# Debian and npm packages into data-cache/ (apt-get download + dpkg-deb -x,
# npm pack: nothing is installed); `make results` retrains every row of
# the table and prints it; QUICK=1 runs the same rows on the small slices
# committed in configs/data/quick/ (no cache, no network; the tests run it).
QUICK ?= 0
data:
	@sh results/fetch.sh data-cache

results: $(B)/f/reel
	@REEL=$(B)/f/reel sh results/results.sh $(if $(filter 1,$(QUICK)),--quick)

# configs/README.md carries `reel list` (every config key); a test checks it.
docs: $(B)/f/reel
	@sh test/reel_list_doc.sh $(B)/f/reel

# Dependencies: Debian's libblis-dev, libcjson-dev and zlib1g-dev.  Checked by compiling
# and linking a probe; installed with apt-get when missing and possible.
deps: $(DEPS_OK) $(DEPS_MPI)

# Open MPI (libopenmpi-dev, openmpi-bin) for data-parallel training: installed
# like BLIS and cJSON when possible, but optional: without it the program
# trains as one process and test/mpi.sh says it skipped.
$(DEPS_MPI):
	@mkdir -p $(B)
	@if ! command -v mpicc >/dev/null || ! command -v mpirun >/dev/null; then \
		pkgs="libopenmpi-dev openmpi-bin"; \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "deps: Open MPI missing; installing $$pkgs with apt-get"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null || true; \
		elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
			echo "deps: Open MPI missing; installing $$pkgs with sudo apt-get"; \
			sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null || true; \
		else \
			echo "deps: Open MPI missing (optional, for mpirun -np N reel train): sudo apt-get install -y $$pkgs"; \
		fi; \
	fi; touch $@
$(DEPS_OK):
	@mkdir -p $(B)
	@probe() { printf '#include <blis.h>\n#include <cjson/cJSON.h>\n#include <zlib.h>\nint main(void){bli_init();cJSON_Delete(cJSON_CreateNull());return !zlibVersion();}\n' \
		| $(CC) -x c - -x none -o $(B)/.probe $(LDLIBS) 2>/dev/null; }; \
	if ! probe; then \
		pkgs="libblis-dev libcjson-dev zlib1g-dev"; \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "deps: BLIS, cJSON or zlib missing; installing $$pkgs with apt-get"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null || exit 1; \
		elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
			echo "deps: BLIS, cJSON or zlib missing; installing $$pkgs with sudo apt-get"; \
			sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null || exit 1; \
		else \
			echo "deps: BLIS, cJSON or zlib missing. Install them with:"; \
			echo "  sudo apt-get install -y $$pkgs"; exit 1; \
		fi; \
		probe || { echo "deps: still cannot build against BLIS, cJSON and zlib"; exit 1; }; \
	fi; rm -f $(B)/.probe; touch $@

clean:
	rm -rf build build-native
