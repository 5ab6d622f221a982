# The two commands of the README. Both set everything up first (scripts/setup is idempotent).
.PHONY: setup demo test lint bench

setup:
	./scripts/setup

demo: setup
	.venv/bin/drills run scenarios/dc1-port-change-failover.yaml --html reports/dc1-port-change-failover.html

test: setup
	.venv/bin/python -m pytest -q -p no:cacheprovider tests

lint: setup
	.venv/bin/ruff check drills tests benchmarks

bench: setup
	.venv/bin/python benchmarks/boot.py
