"""Benchmarks: standalone scripts that print progress to stderr and one JSON line on stdout.

Machines are shared and noisy, so each reports ratios against a baseline measured in the same run.
"""
