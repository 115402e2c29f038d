"""Benchmarks with baselines measured in the same run (issue 6): `python -m bench run [--quick]`."""
