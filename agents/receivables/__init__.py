"""Receivables (invoiced orders, due dates, the overdue sweep, ageing) and the digests delivered to subscribers."""
