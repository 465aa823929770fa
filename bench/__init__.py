"""Benchmarks of fileserver's services (results in docs/performance.md)."""
