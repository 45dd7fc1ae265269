"""Benchmarks and measurement scripts; run each with ``.venv/bin/python -m bench.NAME``."""
