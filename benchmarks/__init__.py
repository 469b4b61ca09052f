"""Offline multi-task benchmarks, runners and speed scripts."""
