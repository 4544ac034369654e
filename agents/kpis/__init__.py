"""Sales KPIs per channel, region, rep, team and campaign over tumbling windows, in the reporting currency:
the pure core behind the kpis agent."""

from pipeline.currency import Rates, load_rates
from agents.kpis.report import kpi_snapshots
from agents.kpis.state import KpiState, apply_funnel, apply_order, apply_spend
from agents.kpis.targets import TargetsConfig, load_targets

__all__ = ["KpiState", "Rates", "TargetsConfig", "apply_funnel", "apply_order", "apply_spend", "kpi_snapshots",
           "load_rates", "load_targets"]
