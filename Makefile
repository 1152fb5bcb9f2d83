# The two commands of the README: `make run` and `make test`. Both install what they need.
SWIFT ?= swift

.PHONY: deps run test bench

deps:
	@scripts/install-deps.sh

# Brings up the demo: today an RPC echo server on 127.0.0.1 and a client calling it.
run: deps
	$(SWIFT) run -c release rpc-echo

# Every test, from a fresh clone.
test: deps
	$(SWIFT) test

# The RPC benchmark, in release mode; prints one JSON object.
bench: deps
	$(SWIFT) run -c release sky-bench rpc
