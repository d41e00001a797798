"""wpsgate's benchmark harness: ``make bench`` or ``python -m bench`` (``--quick`` for a short run).

Side by side with PyWPS 4.8.1 on the same machine in the same run; writes docs/benchmarks.md.
"""
