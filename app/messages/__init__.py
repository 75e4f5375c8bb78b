"""Outbound SMS: segment counting and recipient validation (the send path plugs in later)."""
