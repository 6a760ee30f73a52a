"""Benchmarks for the audit trail (``python -m benchmarks``; ``make bench``).

Every figure and ratio is measured in one run on the machine at hand, so comparisons between
our code, the baseline and the SHA-256 ceiling share the same disk, CPU and load. Benchmarks
report PASS/MISS against targets but never fail: a slow run is information, not a broken build.
"""
