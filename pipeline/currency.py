"""config/currencies.yaml -> Rates: an amount, its currency and its time -> reporting-currency amount, or None.

Shared by every capability that reports money (customer profiles, KPIs, signals).

A rate holds from its `from` date (UTC) until the next `from` of the same currency; before a currency's
first `from`, or for a currency the file does not list, there is no rate and the caller keeps the amount
apart instead of adding it raw. The reporting currency converts to itself at 1, always.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from pipeline.configfile import ConfigProblem, load_yaml
from pipeline.metrics import ISO_4217

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "config" / "currencies.yaml"
# Amounts (16 digits) times rates (bounded below) stay exact at this precision: no rounding until
# the one to 1/10,000 of the reporting currency in `units`.
_EXACT = Context(prec=60)
RateValue = Annotated[Decimal, Field(gt=0, le=1_000_000, max_digits=24, decimal_places=12)]


def _iso(code: str) -> str:
    if code not in ISO_4217:
        raise ValueError(f"unknown currency code {code!r} (ISO 4217, e.g. USD, EUR, JPY)")
    return code


def _decimal(v: object) -> object:
    """YAML reads 1.08 as a float: take its shortest spelling, not its binary value."""
    if isinstance(v, bool):
        raise ValueError("a rate must be a number, not a boolean")
    return Decimal(repr(v)) if isinstance(v, float) else v


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rate(_Model):
    currency: str
    rate: RateValue
    valid_from: date = Field(alias="from")

    _c = field_validator("currency")(_iso)
    _r = field_validator("rate", mode="before")(_decimal)


class Rates(_Model):
    """The reporting currency and the exchange rates into it, with their validity dates."""

    reporting_currency: str
    rates: tuple[Rate, ...] = ()
    _table: dict[str, tuple[list[int], list[Decimal]]] = PrivateAttr(default_factory=dict)

    _c = field_validator("reporting_currency")(_iso)

    @model_validator(mode="after")
    def _consistent(self) -> "Rates":
        seen: dict[tuple[str, date], int] = {}
        for i, r in enumerate(self.rates):
            if r.currency == self.reporting_currency and r.rate != 1:
                raise ConfigProblem(("rates", i, "rate"), f"{r.currency} is the reporting currency: its rate is 1, "
                                    f"not {r.rate} (leave it out)")
            first = seen.setdefault((r.currency, r.valid_from), i)
            if first != i:
                raise ConfigProblem(("rates", i, "from"), f"{r.currency} from {r.valid_from} is given twice "
                                    f"(rates {first + 1} and {i + 1})")
        return self

    def model_post_init(self, _context) -> None:
        by: dict[str, list[tuple[int, Decimal]]] = {}
        for r in self.rates:
            if r.currency != self.reporting_currency:
                by.setdefault(r.currency, []).append((r.valid_from.toordinal(), r.rate))
        self._table = {cur: ([d for d, _ in sorted(rs)], [x for _, x in sorted(rs)]) for cur, rs in by.items()}

    @property
    def currency(self) -> str:
        return self.reporting_currency

    def rate(self, currency: str, at: datetime) -> Decimal | None:
        """Units of the reporting currency per unit of `currency` on `at`'s UTC date; None if no rate covers it."""
        if currency == self.reporting_currency:
            return Decimal(1)
        found = self._table.get(currency)
        if found is None:
            return None
        days, values = found
        i = bisect.bisect_right(days, at.astimezone(timezone.utc).date().toordinal())
        return values[i - 1] if i else None

    def convert(self, amount: Decimal, currency: str, at: datetime) -> Decimal | None:
        """`amount` of `currency` at time `at` in the reporting currency, exactly; None when no rate covers it."""
        if currency == self.reporting_currency:
            return amount
        r = self.rate(currency, at)
        return None if r is None else _EXACT.multiply(amount, r)


def units(amount: Decimal) -> int:
    """A converted amount -> int 1/10,000 units (KPI cells), rounded half-even."""
    return int(amount.scaleb(4, _EXACT).to_integral_value(rounding=ROUND_HALF_EVEN))


def load_rates(path: Path | str = DEFAULT_PATH) -> Rates:
    """The reporting currency and exchange rates, or ConfigError `file:line: field: message`."""
    return load_yaml(path, Rates)
