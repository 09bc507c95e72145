"""maj: the majority vote of k samples (maj@k, metrics/definitions.py), every run's default."""

from .registry import Strategy, register

MAJ = register(Strategy("maj", "majority vote of k samples (maj@k)", "selection", metric="maj@k"))
