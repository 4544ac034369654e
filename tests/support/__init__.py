"""Shared test helpers: brokers, databases, worker processes, event factories."""
