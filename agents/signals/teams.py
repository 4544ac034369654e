"""targets.yaml teams and reps + the escalation directory -> the directory team a pace incident is routed by.

The targets file names teams its own way ("north"); the directory groups people into teams ("team-north").
A rep's incident goes by the rep's team in the directory; a team's by the directory team its reps share.
"""

from __future__ import annotations

from agents.escalation.directory import Directory
from agents.kpis.targets import TargetsConfig
from agents.signals.firing import Firing


class TeamMap:
    def __init__(self, targets: TargetsConfig | None, directory: Directory) -> None:
        self.rep_team = {p.id: p.team for p in directory.people if p.team}
        self.team: dict[str, str] = {}
        for name, t in (targets.teams.items() if targets else ()):
            found = {self.rep_team[r] for r in t.reps if r in self.rep_team}
            if len(found) == 1:
                self.team[name] = found.pop()

    def of(self, f: Firing) -> str | None:
        kind, _, ident = f.subject.partition(":")
        if kind == "rep":
            return self.rep_team.get(ident, f.team)
        if kind == "team":
            return self.team.get(ident, f.team)
        return f.team
