"""Benchmarks for the ExisOne client and server: ratios measured side by side in one run.

Run everything with ``python -m benchmarks``; see ``docs/benchmarks.md``.
"""
