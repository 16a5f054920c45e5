"""Benchmarks: a reusable bulk data generator (``bench.generate``) and the
runnable benchmarks built on it (``python -m bench.escalation_sweep``).
Results are written to ``docs/PERFORMANCE.md``."""
