"""Frozen copies of code as it was, for equivalence tests."""
