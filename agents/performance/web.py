"""HTTP (bearer token, scoped): GET /scorecards?period=2026-11[&rep=R|&team=T] -> the scorecards and leaderboard
the reader may see; 400 bad period, 403 outside their scope, 404 unknown rep or team."""

from __future__ import annotations

from faust import web

from agents.escalation.directory import Directory
from agents.escalation.web import NO_STORE, ReadGate, Refusal, refuse
from agents.performance.service import IncentiveOf, RevenueOf, Unseen, scorecards
from agents.performance.targets import ScorecardTargets, parse_period
from pipeline.runtime import Runtime, now_utc


def register_pages(rt: Runtime, gate: ReadGate, directory: Directory, targets: ScorecardTargets,
                   revenue_of: RevenueOf | None = None, incentive_of: IncentiveOf | None = None) -> None:
    app = rt.app

    @app.page("/scorecards")
    class Scorecards(web.View):
        async def get(self, request: web.Request) -> web.Response:
            reader = gate.admit(request, "read:kpis")
            if isinstance(reader, Refusal):
                return refuse(self, reader)
            now = now_utc()
            rep, team = request.query.get("rep") or None, request.query.get("team") or None
            if rep and team:
                return self.json({"error": "give rep or team, not both"}, status=400)
            try:
                period = parse_period(request.query.get("period") or f"{now.year}-{now.month:02d}")
            except ValueError as exc:
                return self.json({"error": str(exc)}, status=400)
            try:
                out = await scorecards(rt.engine, directory, targets, period, now, reader=reader, rep=rep, team=team,
                                       revenue_of=revenue_of, incentive_of=incentive_of)
            except Unseen as exc:
                return self.json({"error": str(exc)}, status=exc.status, headers=dict(NO_STORE))
            return self.json(out, headers=dict(NO_STORE))
