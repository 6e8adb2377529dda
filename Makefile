# The two commands of the README:
#   make scenarios   the scenario suite against freshly started local clusters
#   make test        the test suite
# plus `make verify` (read-only: fmt check, clippy -D warnings, tests) and
# `make fix` (format and apply clippy fixes).

CARGO ?= cargo

.PHONY: build scenarios test verify fmt-check clippy fix bench

build:
	$(CARGO) build --workspace --bins

scenarios: build
	./target/debug/scenarios run scenarios/

test: build
	$(CARGO) nextest run --workspace --no-fail-fast

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

verify: fmt-check clippy test

fix:
	$(CARGO) fmt --all
	$(CARGO) clippy --workspace --all-targets --fix --allow-dirty --allow-staged

# Side by side with a real InfluxDB 1.6 (when installed); updates docs/benchmarks.md.
bench:
	$(CARGO) build --release --workspace --bins
	./target/release/testbed bench --json target/bench.json --markdown docs/benchmarks.md
