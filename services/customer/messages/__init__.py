"""Rows and domain values to contract messages: replies and event envelopes."""
