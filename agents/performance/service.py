"""A reader, a period and optionally a rep or team -> the scorecards and leaderboard they may see (shared by
GET /scorecards and `salespulse scorecard show`); revenue and incentives come in through ports."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal

from agents.escalation.directory import Directory, Person
from agents.performance.metrics import RepMetrics, rep_metrics, team_metrics
from agents.performance.scorecard import leaderboard, scorecard, team_median_conversion
from agents.performance.targets import Period, ScorecardTargets

# (kind "rep" | "team", id, period) -> the period's revenue in the reporting currency (None: use the KPI cells')
RevenueOf = Callable[[str, str, Period], Decimal | None | Awaitable[Decimal | None]]
# (rep, period) -> the rep's incentive statement (its JSON), or None when no plan applies
IncentiveOf = Callable[[str, Period], dict | None | Awaitable[dict | None]]
REP_ROLE = "account_rep"


class Unseen(Exception):
    """The reader may not see what they asked for (403), or it does not exist (404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _call(port, *args):
    out = port(*args)
    return await out if inspect.isawaitable(out) else out


def reps_of(directory: Directory) -> dict[str, Person]:
    return {p.id: p for p in directory.people if p.role == REP_ROLE}


def may_see_rep(reader, rep: Person) -> bool:
    """A rep: themselves; a person with a team (a lead): their team; else their region; no region: everyone."""
    if reader is None or reader.region is None:
        return True
    if isinstance(reader, Person):
        if reader.role == REP_ROLE:
            return reader.id == rep.id
        if reader.team is not None:
            return rep.team == reader.team
    return rep.region == reader.region


async def scorecards(engine, directory: Directory, targets: ScorecardTargets, period: Period, now: datetime, *,
                     reader=None, rep: str | None = None, team: str | None = None, revenue_of: RevenueOf | None = None,
                     incentive_of: IncentiveOf | None = None) -> dict:
    """{period, elapsed, scorecards (reps), teams, leaderboard} within the reader's scope (None: everything)."""
    reps = reps_of(directory)
    if rep is not None and rep not in reps:
        raise Unseen(404, f"no rep {rep[:80]!r} in the directory")
    teams_all = sorted({p.team for p in reps.values() if p.team})
    if team is not None and team not in teams_all:
        raise Unseen(404, f"no team {team[:80]!r} in the directory (teams: {', '.join(teams_all)})")
    visible = {r: p for r, p in reps.items() if may_see_rep(reader, p)}
    if rep is not None and rep not in visible:
        raise Unseen(403, f"{reader.id} may not see the scorecard of {rep}: outside their scope")
    chosen = {r: p for r, p in visible.items() if (rep is None or r == rep) and (team is None or p.team == team)}
    if team is not None and not chosen:
        raise Unseen(403, f"{reader.id} may not see team {team}: outside their scope")
    figures = await rep_metrics(engine, period.start, period.end)
    members: dict[str, list[str]] = {}
    for r, p in reps.items():
        if p.team:
            members.setdefault(p.team, []).append(r)
    medians = {t: team_median_conversion(figures.get(r, RepMetrics()) for r in rs) for t, rs in members.items()}

    async def revenue(kind: str, ident: str) -> Decimal | None:
        return None if revenue_of is None else await _call(revenue_of, kind, ident, period)

    cards = []
    for r, p in sorted(chosen.items()):
        inc = None if incentive_of is None else await _call(incentive_of, r, period)
        cards.append(scorecard("rep", r, p.team, period, figures.get(r, RepMetrics()),
                               targets.for_owner("rep", r, period), now, medians.get(p.team),
                               await revenue("rep", r), inc))
    team_cards = []
    # a team's card when the reader sees the whole team: a rep sees only their own
    shown_teams = sorted({p.team for p in chosen.values() if p.team
                          and all(m in visible for m in members[p.team])} if rep is None else set())
    for t in shown_teams:
        team_cards.append(scorecard("team", t, t, period, team_metrics(figures, members[t]),
                                    targets.for_owner("team", t, period), now, medians.get(t),
                                    await revenue("team", t)))
    return {"period": period.text, "start": period.start.isoformat(), "end": period.end.isoformat(),
            "now": now.isoformat(), "scorecards": [c.to_dict() for c in cards],
            "teams": [c.to_dict() for c in team_cards], "leaderboard": leaderboard(cards)}
