"""Ingestion: input topics -> validated events to capability handlers, bad bytes to the dead-letter topic."""
