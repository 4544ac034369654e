"""The `salespulse` command line: one module per command group, discovered by main."""
