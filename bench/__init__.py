"""Benchmarks that print figures (the last line is JSON); never run as tests."""
