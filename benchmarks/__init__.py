"""Benchmarks of SMS Alerts: run with scripts/benchmark."""
