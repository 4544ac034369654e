"""config/competitors.yaml -> CompetitorsConfig (validated, compiled); feedback text -> CompetitorMention list.

A mention is a competitor's name or alias in the text; what it was compared on is decided by the
comparison cue nearest to it in the same clause ("cheaper at ShopFast" -> price), "general" when the
clause has none. Matching runs on the normalised text (lower case, simplified script, same length as
the original), so "淘寶" matches the alias "淘宝" and every span is a span of the original text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, StringConstraints, field_validator, model_validator

from agents.feedback.text import clause_bounds, is_cjk_term, normalise
from pipeline.configfile import ConfigProblem, load_yaml
from schemas.feedback import Compared, CompetitorMention

DEFAULT_NAME = "competitors.yaml"  # beside the classifier's directory (config/)
GAP = "..."                        # in a cue: any words between its two halves, within the clause
GAP_MAX_CHARS = 20                 # "比京东便宜", "去隔壁的拼多多买": a few words, never a whole clause
MAX_MENTIONS = 20                  # Classification.competitors holds at most this many

Alias = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Cue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
CompetitorId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,40}$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Aliases(_Model):
    en: list[Alias] = []
    zh: list[Alias] = []


class Competitor(_Model):
    id: CompetitorId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    aliases: Aliases = Aliases()

    def terms(self) -> list[str]:
        """The display name is an alias too."""
        return [self.name, *self.aliases.en, *self.aliases.zh]


class Cues(_Model):
    en: list[Cue] = []
    zh: list[Cue] = []

    @field_validator("en", "zh")
    @classmethod
    def _one_gap(cls, v: list[str]) -> list[str]:
        for i, cue in enumerate(v):
            halves = cue.split(GAP)
            if len(halves) > 2 or not all(h.strip() for h in halves):
                raise ConfigProblem((i,), f"{cue!r}: a cue is a phrase, or two phrases around one {GAP!r}")
        return v


class CompetitorsConfig(_Model):
    """Competitors and comparison cues, with the one alias regex and the one cue regex built from them."""

    version: Literal[1] = 1
    competitors: list[Competitor] = []
    comparisons: dict[Compared, Cues] = {}

    _aliases: re.Pattern[str] = PrivateAttr()
    _owner: dict[str, str] = PrivateAttr()  # normalised alias -> competitor id
    _cues: re.Pattern[str] = PrivateAttr()

    @model_validator(mode="after")
    def _distinct(self) -> "CompetitorsConfig":
        ids: dict[str, int] = {}
        owner: dict[str, str] = {}
        for i, c in enumerate(self.competitors):
            if c.id in ids:
                raise ConfigProblem(("competitors", i, "id"), f"{c.id!r} is also competitor {ids[c.id] + 1}")
            ids[c.id] = i
            for term in c.terms():
                key = _key(term)
                if owner.get(key, c.id) != c.id:
                    raise ConfigProblem(("competitors", i, "aliases"),
                                        f"{term!r} is also an alias of {owner[key]!r}: a name must point to one competitor")
                owner[key] = c.id
        return self

    def model_post_init(self, _: Any) -> None:
        self._owner = {_key(t): c.id for c in self.competitors for t in c.terms()}
        self._aliases = _alternation(list(self._owner))
        groups = [f"(?P<{kind}>{_alternation_source([*cues.en, *cues.zh])})"
                  for kind, cues in self.comparisons.items() if cues.en or cues.zh]
        self._cues = re.compile("|".join(groups)) if groups else _NEVER

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.competitors]


_NEVER = re.compile(r"(?!)")
_SPACES = re.compile(r"\s+")


def _key(term: str) -> str:
    return _SPACES.sub(" ", normalise(term.strip()))


def _piece(phrase: str, bounded: bool = True) -> str:
    """One phrase -> regex source: Latin words on word boundaries (any run of spaces between them),
    Chinese anywhere. `bounded=False`: the caller puts the boundaries around a whole alternation."""
    norm = _key(phrase)
    body = r"\s+".join(re.escape(w) for w in norm.split(" "))
    if is_cjk_term(norm) or not bounded:
        return body
    return rf"(?<![a-z0-9]){body}(?![a-z0-9])"


def _term_source(term: str) -> str:
    halves = [h.strip() for h in term.split(GAP)]
    if len(halves) == 1:
        return _piece(halves[0])
    # the gap stays inside the clause: no clause punctuation in it
    return _piece(halves[0]) + rf"[^.,!?;:。，！？；：\n]{{0,{GAP_MAX_CHARS}}}?" + _piece(halves[1])


def _alternation_source(terms: list[str]) -> str:
    # longest first, so "shop fast" wins over "shop" where both are listed
    return "|".join(_term_source(t) for t in sorted(set(terms), key=lambda t: (-len(t), t)))


def _alternation(terms: list[str]) -> re.Pattern[str]:
    """Names: the Latin ones in one group inside one pair of boundaries (a lookbehind per
    alternative was tried at every position of every message: 18% of classification time), the
    Chinese ones after it."""
    if not terms:
        return _NEVER
    latin = sorted({t for t in terms if GAP not in t and not is_cjk_term(_key(t))}, key=lambda t: (-len(t), t))
    rest = [t for t in terms if t not in latin]
    parts = [rf"(?<![a-z0-9])(?:{'|'.join(_piece(t, bounded=False) for t in latin)})(?![a-z0-9])"] if latin else []
    if rest:
        parts.append(_alternation_source(rest))
    return re.compile("|".join(parts))


def load_competitors(path: str | Path) -> CompetitorsConfig:
    """The competitors file, or ConfigError `file:line: field: message`."""
    return load_yaml(path, CompetitorsConfig)


def find(text: str, cfg: CompetitorsConfig, norm: str | None = None) -> list[CompetitorMention]:
    """Competitors named in `text`, in order, once per (competitor, compared); `norm` is
    normalise(text) when the caller has it."""
    return Finder(cfg)(text, norm)


class Finder:
    """`find` for one config, its compiled patterns held as plain attributes: the classifier calls
    it on every message, and pydantic's private-attribute lookup cost more than a short message's search."""

    __slots__ = ("any", "aliases", "cues", "owner")

    def __init__(self, cfg: CompetitorsConfig):
        self.any = bool(cfg.competitors)
        self.aliases, self.cues, self.owner = cfg._aliases, cfg._cues, cfg._owner

    def __call__(self, text: str, norm: str | None = None) -> list[CompetitorMention]:
        if not self.any:
            return []
        norm = normalise(text) if norm is None else norm
        names = list(self.aliases.finditer(norm))
        if not names:
            return []
        cues = [(m.start(), m.end(), m.lastgroup) for m in self.cues.finditer(norm)]
        bounds = clause_bounds(norm)
        out: list[CompetitorMention] = []
        seen: set[tuple[str, str]] = set()
        for m in names:
            start, end = m.span()
            lo, hi = _clause_of(bounds, start)
            best: tuple[int, str] | None = None
            for c_start, c_end, kind in cues:
                if c_start < lo or c_end > hi:
                    continue
                gap = max(0, c_start - end, start - c_end)
                if best is None or gap < best[0]:
                    best = (gap, kind)
            compared = best[1] if best is not None else "general"
            competitor = self.owner[_SPACES.sub(" ", m.group())]
            if (competitor, compared) in seen:
                continue
            seen.add((competitor, compared))
            out.append({"competitor": competitor, "compared": compared, "term": text[start:end][:200],
                        "start": start, "end": end})
            if len(out) == MAX_MENTIONS:
                break
        return out


def _clause_of(bounds: list[tuple[int, int]], pos: int) -> tuple[int, int]:
    for lo, hi in bounds:
        if lo <= pos < hi:
            return lo, hi
    return 0, 0
