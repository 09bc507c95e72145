"""Suites (TOML) and task data shipped with ttc-bench (installed as ttc_bench.tasks)."""
