# databrain front door. Every target installs the Debian packages it is missing, so a fresh
# Debian 12 machine needs nothing but `make` (run as root, or with sudo available).
#   make            build build/databrain
#   make demo       load the demo city into databrain.db (the real data pack in ../shared/data when
#                   present) and serve it on http://127.0.0.1:8080
#   make test       unit + end-to-end tests
#   make test-asan  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS
#   make bench      import benchmark against SQLite, PostgreSQL and DuckDB on the synthetic city
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
SHARED     ?= $(abspath ../shared)
PACK       ?= $(SHARED)/data
DB         ?= databrain.db
LISTEN     ?= 127.0.0.1:8080
FUZZ_SECONDS ?= 30
BENCH_SCALE  ?= 1.0
JOBS       ?= $(shell nproc)

# Debian's npm package, unless an npm came with the installed nodejs (NodeSource's bundles it and
# conflicts with Debian's).
NPM_DEPS   = nodejs $(if $(shell command -v npm 2>/dev/null),,npm)
BUILD_DEPS = cmake make gcc pkg-config libsqlite3-dev libjansson-dev libcmocka-dev libsodium-dev \
             libmicrohttpd-dev libcurl4-openssl-dev libxlsxwriter-dev $(NPM_DEPS)
TEST_DEPS  = python3 python3-pytest sqlite3 chromium
FUZZ_DEPS  = clang libclang-rt-14-dev
BENCH_DEPS = sqlite3 postgresql-15 $(NPM_DEPS) python3 strace wrk curl

.PHONY: all deps test-deps demo test test-asan fuzz bench clean

all: deps web/node_modules/.package-lock.json
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@./scripts/need-packages $(BUILD_DEPS)

test-deps: tests/browser/node_modules/.package-lock.json
	@./scripts/need-packages $(TEST_DEPS)

# The dashboard's ECharts and the browser tests' playwright-core, exactly as their lockfiles pin them.
web/node_modules/.package-lock.json: web/package-lock.json | deps
	cd web && npm ci --no-audit --no-fund
tests/browser/node_modules/.package-lock.json: tests/browser/package-lock.json | deps
	cd tests/browser && npm ci --no-audit --no-fund

demo: all
	rm -f $(DB) $(DB)-wal $(DB)-shm
	./$(BUILD)/databrain --store sqlite:$(DB) demo $(if $(wildcard $(PACK)/README.md),--pack $(PACK))
	@echo "--- CPI year on year, Viet Nam, last quarter of 2024:"
	@./$(BUILD)/databrain --store sqlite:$(DB) query series CPI_YOY VN --from 2024-10 --to 2024-12
	@./scripts/demo-users ./$(BUILD)/databrain sqlite:$(DB)
	@echo "--- serving the demo city on http://$(LISTEN)/ (Ctrl-C stops it; the store is $(DB))"
	./$(BUILD)/databrain --store sqlite:$(DB) serve --listen $(LISTEN)

test: all test-deps
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps test-deps web/node_modules/.package-lock.json
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDB_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

fuzz: deps
	@./scripts/need-packages $(FUZZ_DEPS)
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDB_FUZZ=ON \
		-DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	./scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: all
	@./scripts/need-packages $(BENCH_DEPS)
	./bench/run.sh $(BENCH_SCALE)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
