# Thin wrapper around CMake. `make run` and `make test` are all a newcomer
# needs; both install missing Debian packages first (scripts/deps.sh).
BUILD   := build
SAN     := $(BUILD)/sanitize
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := request_map config forwarded manifest unseal plugin_routes call_path

.PHONY: all deps build build-quiet run demo test test-normal test-sanitize sanitize-build fuzz format clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# run and demo build quietly: the compiler's output only when the build
# fails, so that what they print (a one-time password, the demo's URL and
# credentials) is the last thing on the screen.
build-quiet: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@echo "building (output in $(BUILD)/build.log)..."
	@cmake --build $(BUILD) -j$(JOBS) >$(BUILD)/build.log 2>&1 || \
		{ cat $(BUILD)/build.log; echo "make: the build failed; output above and in $(BUILD)/build.log" >&2; exit 1; }

run: build-quiet
	@scripts/run.sh

# The host, the example App hello-oauth2 and a small OAuth2 provider, for a
# person to click through the flow; prints the URL and the credentials.
# Addresses: MMHOST_LISTEN, DEMO_APP_LISTEN, DEMO_PROVIDER_LISTEN.
demo: build-quiet
	@scripts/demo.sh

# The whole suite twice: a normal build (gcc), then clang with AddressSanitizer
# and UndefinedBehaviorSanitizer (halt on the first error, leak detection on).
test: deps test-normal test-sanitize

test-normal: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

sanitize-build: deps
	@CC=clang cmake -S . -B $(SAN) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(SAN) -j$(JOBS)

test-sanitize: sanitize-build
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ctest --test-dir $(SAN) --output-on-failure -j$(JOBS)

# Each libFuzzer target for FUZZ_SECONDS (default 60), growing its corpus in
# build/sanitize/tests/fuzz/out/<target>. A crash stops the run and leaves
# crash-<hash> in the working directory: turn it into a regression test.
fuzz: sanitize-build
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
		mkdir -p $(SAN)/tests/fuzz/out/$$t; \
		$(SAN)/bin/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
			-dict=tests/fuzz/http.dict $(SAN)/tests/fuzz/out/$$t tests/fuzz/corpus/$$t \
			2>&1 | tail -3 || exit 1; \
	done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
