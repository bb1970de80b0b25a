"""Benchmarks of the scan path against a bare baseline measured in the same run (``make bench``).

Figures only: nothing here passes or fails on timing.
"""
