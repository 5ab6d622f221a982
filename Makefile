# The two commands of the README. Both set everything up first (scripts/setup is idempotent).
.PHONY: setup demo test lint bench

setup:
	./scripts/setup

# The drill's manual failback gate is approved up front so the demo runs unattended; run the
# same command without --approve to approve it at the terminal, as an operator would.
demo: setup
	.venv/bin/drills run scenarios/dc1-port-change-failover.yaml --approve failback \
		--html reports/dc1-port-change-failover.html --junit reports/dc1-port-change-failover.junit.xml

# The containers provider's tests need a Docker engine and the local images: the test setup
# installs docker.io and builds them (once per machine); the test fixture starts dockerd.
test:
	DRILLS_DOCKER=1 ./scripts/setup
	.venv/bin/python -m pytest -q -p no:cacheprovider tests

lint: setup
	.venv/bin/ruff check drills tests benchmarks

bench: setup
	.venv/bin/python benchmarks/boot.py
