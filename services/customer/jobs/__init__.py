"""Periodic and background work (app.py wires each, advisory-locked, one replica at a time),
calling use cases."""
