# Vitrina: `make demo` runs the engine on a demo store; `make test` runs the tests.
# Both install what they need first (scripts/install-deps.sh): Debian
# packages, and the npm packages of web/ (the dashboard, demo store and
# tracker); `make test` also Debian's chromium for the browser tests.

MAKEFLAGS += --no-print-directory

BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps test-deps configure build test demo bench-deps clean

all: build

deps:
	@scripts/install-deps.sh

test-deps:
	@VITRINA_TEST_DEPS=1 scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) > $(BUILD_DIR).configure.log 2>&1 \
	  || { cat $(BUILD_DIR).configure.log; exit 1; }

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

test: test-deps build
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) --timeout 600

demo: build
	@scripts/demo.sh $(BUILD_DIR)/vitrina

bench-deps:
	@VITRINA_BENCH_DEPS=1 scripts/install-deps.sh

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log web/tracker/dist
