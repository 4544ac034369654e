"""After-sales cases: negative feedback that needs an answer -> one case per customer and category, with
SLAs on business-hours calendars; a missed SLA -> an incident; pure core beside the worker's driver."""

from agents.cases.config import CasesConfig, load_cases_config
from agents.cases.core import Breach, Case, CaseCore, Change, breach_key, case_id, next_state

__all__ = ["Breach", "Case", "CaseCore", "CasesConfig", "Change", "breach_key", "case_id", "load_cases_config",
           "next_state"]
