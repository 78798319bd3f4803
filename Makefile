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
CTEST_ARGS ?=

.PHONY: all deps configure build test test-fast unit integration asan demo install format format-check \
        stack-up stack-down stack-status clean chaos

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

install: build
	cmake --install $(BUILD)

format: configure
	cmake --build $(BUILD) --target format

format-check: configure
	cmake --build $(BUILD) --target format-check

stack-up:
	bash deploy/local/stack.sh up

stack-down:
	bash deploy/local/stack.sh down

stack-status:
	bash deploy/local/stack.sh status

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
