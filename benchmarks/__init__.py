"""Benchmarks of SMS Alerts: run with scripts/benchmark."""

import os

# scripts/benchmark --smoke (run by scripts/test) sets this: every size, round count and warm-up is then the least
# that still runs each benchmark's code paths and correctness checks (nothing lost, statuses, counts), so a change
# that breaks a benchmark fails CI. Its tables then measure nothing, and timing targets are not asserted: a loaded
# CI machine must not fail on speed. Without it, every benchmark runs at its full size.
SMOKE = os.environ.get("SMS_ALERTS_BENCHMARK_SMOKE") == "1"


def sized[T: (int, float)](full: T, smoke: T) -> T:
    """Return a benchmark's size: `full` when measuring, `smoke` in the smoke run."""
    return smoke if SMOKE else full
