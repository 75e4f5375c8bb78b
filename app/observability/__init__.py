"""Logs, metrics, probes and the access middleware."""
