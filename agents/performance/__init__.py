"""Team performance: targets with base and stretch, scorecards, incentive statements, coaching."""
