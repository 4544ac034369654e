"""The incident board and KPI overview for managers: pages and JSON served by every worker's web server."""
