"""Business signals: complaint rates, negative shares, target pace and campaign ROI -> incidents."""

from agents.signals.config import SignalsConfig, load_signals
from agents.signals.core import SignalsCore
from agents.signals.firing import KINDS, Firing, incident
from agents.signals.kpi import KpiFigures, OfflineFigures, SnapshotFigures

__all__ = ["KINDS", "Firing", "KpiFigures", "OfflineFigures", "SignalsConfig", "SignalsCore", "SnapshotFigures",
           "incident", "load_signals"]
