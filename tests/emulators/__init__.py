"""Emulations of real providers' documented behaviour, for tests only (never shipped).

Each module emulates one provider's HTTP API from its own documentation and source code,
with the source cited next to every rule; none of them imports ttc_bench. The servers share
the plumbing in ``base`` and the deterministic stand-in model in ``toy_model``.
"""
