# The two commands of the README: `make run` and `make test`. Both install what they need.
SWIFT ?= swift
DOCS ?= .build/docs/site

.PHONY: deps run cluster test consumer docs fuzz bench

deps:
	@scripts/install-deps.sh

# Brings up the platform: `skynetd --dev`, the echo service (it registers itself) and the
# echo client (it finds the service and calls it); in a terminal they stay up until Ctrl-C.
run: deps
	SWIFT=$(SWIFT) scripts/run-dev.sh

# The coordinator as a cluster on 127.0.0.1: three etcd members, two skynetd fronts over
# them, the echo service and client; shows `sky members` and `sky topology`.
cluster: deps
	SWIFT=$(SWIFT) scripts/run-cluster.sh

# The suites that start etcd clusters and fronts (many processes each): they run after the
# others, one test at a time, so two cores are not shared by a dozen etcd members at once.
ETCD_TESTS = EtcdFaultTests|CoordinatorConformanceTests|EtcdClientLiveTests

# Every test, from a fresh clone: the package's tests (examples/consumer is built first, as
# a user's own package, so the test that runs it finds it current), the dashboard in a real
# browser (headless Chromium, against live skynetd and echo-service), the Python client
# (pytest against live skynetd, Swift echo-service, echo-client and sky), then the documentation
# with warnings as errors (a broken symbol link fails), then each fuzz target for 20 s.
test: deps consumer
	$(SWIFT) test --skip '$(ETCD_TESTS)'
	$(SWIFT) test --skip-build --no-parallel --filter '$(ETCD_TESTS)'
	SKYNET_BIN=$$($(SWIFT) build --show-bin-path) python3 -m pytest -q -s -p no:cacheprovider Tests/browser
	SKYNET_BIN=$$($(SWIFT) build --show-bin-path) python3 -m pytest -q -p no:cacheprovider clients/python/tests
	$(MAKE) --no-print-directory docs
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20

# examples/consumer: the README's service and client in a package that depends on Skynet.
# --disable-build-manifest-caching: a file added to Skynet's sources must reach this build
# too, and a cached build plan of a path dependency would not see it.
consumer: deps
	$(SWIFT) build --package-path examples/consumer --disable-build-manifest-caching

# DocC for the public modules, combined into one site under $(DOCS); serve it with
# `python3 -m http.server --directory $(DOCS)` and open /documentation/skynet.
docs: deps
	rm -rf $(DOCS) && mkdir -p $(dir $(DOCS))
	$(SWIFT) package --allow-writing-to-directory $(dir $(DOCS)) generate-documentation \
		--target Skynet --target SkynetRPC --target SkynetTree --target SkynetCoordinator --target MessagePack --target SkynetTimer \
		--enable-experimental-combined-documentation --warnings-as-errors --output-path $(DOCS)
	@echo "documentation in $(DOCS): python3 -m http.server --directory $(DOCS), then open /documentation/skynet"

# libFuzzer over the MessagePack decoders and the RPC frame decoder, FUZZ_SECONDS each
# (default 60), from the corpus in Fuzz/corpus; a crash leaves its input in .build-fuzz/crashes.
fuzz: deps
	SWIFT=$(SWIFT) FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) scripts/fuzz.sh

# The benchmarks, in release mode; each prints one JSON object.
bench: deps
	$(SWIFT) build -c release
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench rpc --tls
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench coordinator
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench coordinator --auth
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench vs-etcd
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench service
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench topology
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench abuse
	$$($(SWIFT) build -c release --show-bin-path)/sky-bench timer
	python3 clients/python/bench.py --bin $$($(SWIFT) build -c release --show-bin-path)
