# The two commands of the README: `make run` and `make test`. Both install what they need.
SWIFT ?= swift

.PHONY: deps run test bench

deps:
	@scripts/install-deps.sh

# Brings up the platform: `skynetd --dev`, the echo service (it registers itself) and the
# echo client (it finds the service and calls it); in a terminal they stay up until Ctrl-C.
run: deps
	SWIFT=$(SWIFT) scripts/run-dev.sh

# Every test, from a fresh clone.
test: deps
	$(SWIFT) test

# The benchmarks, in release mode; each prints one JSON object.
bench: deps
	$(SWIFT) build -c release
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench rpc
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench coordinator
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench service
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench topology
