"""Helpers the tests share (data factories live in tests/factories.py)."""
