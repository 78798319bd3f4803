# The short commands of the README. `make demo` and `make test` do all the set-up on a fresh
# Debian/Ubuntu machine (deploy/local/bootstrap.sh installs what is missing).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
PREFIX     ?= /usr/local
ifeq ($(CI),true)
WERROR     ?= ON
endif
WERROR     ?= OFF
CMAKE_ARGS ?=
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = envelope config admin_request sign ssrf
CTEST_ARGS ?=

.PHONY: all deps configure build test test-fast unit integration asan demo install format format-check \
        stack-up stack-down stack-status clean lint-deploy fuzz valgrind bench chaos

all: build

deps:
	bash deploy/local/bootstrap.sh

configure:
	cmake -S . -B $(BUILD) -DHOOKLINE_WERROR=$(WERROR) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

# The sanitizer tree: ASan + UBSan. Instrumented programs run 2-3x slower, so its integration
# tests get twice the time.
asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHOOKLINE_TEST_TIMEOUT_SCALE=2 -DHOOKLINE_WERROR=$(WERROR) \
	  -DHOOKLINE_SANITIZE=address,undefined $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)

# Everything: set-up, build, the whole suite under ASan+UBSan, then the whole suite again on the
# ordinary build (the `stack` fixture starts Kafka and Redis when they are not running and stops
# what it started). `make test-fast` skips the sanitizer pass.
test: deps build asan
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS) $(CTEST_ARGS)
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) $(CTEST_ARGS)

test-fast: deps build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) $(CTEST_ARGS)

unit: build
	ctest --test-dir $(BUILD) -L unit --output-on-failure -j$(JOBS) $(CTEST_ARGS)

integration: build
	ctest --test-dir $(BUILD) -L integration --output-on-failure $(CTEST_ARGS)

# The chaos suite's long form (docs/chaos.md; the short form runs in `make test`): CHAOS_EVENTS,
# CHAOS_RATE... size it, CHAOS="0950 0953" picks scenarios, CHAOS_MODE=short runs the short form.
chaos: build
	bash tests/chaos/run.sh $(BUILD) $(CHAOS)

demo: deps build
	bash deploy/local/demo.sh $(BUILD)

# The dispatcher benchmark report (docs/benchmarks.md): ~10 minutes, BENCH_QUICK=1 ~2. Needs the
# stack up; writes tests/bench/results/<date>.{json,md} and plots.
bench: deps build
	bash tests/bench/dispatch/run.sh $(BUILD)

install: build
	cmake --install $(BUILD)

format: configure
	cmake --build $(BUILD) --target format

format-check: configure
	cmake --build $(BUILD) --target format-check

# Deployment files (Dockerfile, docker-compose.yml, deploy/k8s) against their schemas, offline;
# installs its pinned linters into a cache on first use (deploy/lint.sh). Also ctest 0800.
lint-deploy:
	bash deploy/lint.sh

stack-up:
	bash deploy/local/stack.sh up

stack-down:
	bash deploy/local/stack.sh down

stack-status:
	bash deploy/local/stack.sh status

# libFuzzer (clang, ASan+UBSan): each target for FUZZ_SECONDS from its seed corpus
# (tests/fuzz/corpus/<target>); new inputs go to $(FUZZ_BUILD)/corpus/<target>, a crash stops
# with the input in $(FUZZ_BUILD)/crash-<target>-* (add it to the seed corpus once fixed).
fuzz:
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DHOOKLINE_FUZZ=ON \
	  -DHOOKLINE_WERROR=$(WERROR) $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- \
	    $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t; \
	done

# The unit tests (fuzz corpus replays included) under valgrind: any definite leak or memory error
# fails.
valgrind: build
	ctest --test-dir $(BUILD) -L unit --output-on-failure $(CTEST_ARGS) \
	  -T memcheck --overwrite MemoryCheckCommand=$$(command -v valgrind) \
	  --overwrite "MemoryCheckCommandOptions=--leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --track-origins=yes"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
