# radrelay — the README's two commands are `make run` and `make test`.
# Both install what they need on Debian 12 (scripts/setup.sh is idempotent) and build first.

SWIFT ?= swift
CONFIG ?= etc/radrelay.yaml
BIN_DIR = $(shell $(SWIFT) build --show-bin-path 2>/dev/null)

.PHONY: run test build setup setup-test check-config clean install bench faults

## run: install system packages, build, and run the daemon on etc/radrelay.yaml (Ctrl-C stops it)
run: setup build
	TCP_NODELAY=1 exec $(BIN_DIR)/radrelayd --config $(CONFIG)

## test: install system and test packages (DCMTK tools, Orthanc, pydicom), build, run every test
test: setup-test
	$(SWIFT) build --build-tests
	# XCTest only: the suite has no swift-testing tests, and its empty run would close the log.
	RADRELAY_BIN_DIR=$(BIN_DIR) $(SWIFT) test --skip-build --disable-swift-testing

build:
	$(SWIFT) build

## bench: benchmark suite (release build in .build-release; not part of `make test`); docs/benchmarks.md
bench: setup-test
	bash scripts/bench/run.sh

## faults: full fault-injection suite (50 kill -9 cycles, long cases, known-bug cases); docs/reliability.md
faults: setup-test
	$(SWIFT) build --build-tests
	RADRELAY_BIN_DIR=$(BIN_DIR) bash scripts/faults/run.sh

setup:
	bash scripts/setup.sh

setup-test:
	bash scripts/setup.sh --test

## install: binaries, unit, sysusers/tmpfiles, default config and docs in FHS places (DESTDIR, PREFIX honoured)
install:
	DESTDIR="$(DESTDIR)" PREFIX="$(or $(PREFIX),/usr)" bash scripts/install.sh

## check-config: validate $(CONFIG) like `nginx -t`
check-config: build
	$(BIN_DIR)/radrelayd --check-config --config $(CONFIG)

clean:
	rm -rf .build var
