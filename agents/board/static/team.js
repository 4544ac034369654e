/* Team: GET /scorecards?period= -> a leaderboard ranked by attainment of the revenue target (a share, so a small
   territory can lead) and the selected rep's or team's scorecard: each target with base, stretch and pace, the
   figures behind them, conversion per funnel stage against the team's median. The server scopes what comes back
   (a rep: themselves; a lead: their team; a manager: their region). */
"use strict";

(() => {
  const {el, money, pct, humanize} = SP;
  const $ = (id) => document.getElementById(id);
  let me = null, out = null, selected = null, wired = false;

  function thisMonth() {
    const d = new Date();
    return d.getUTCFullYear() + "-" + String(d.getUTCMonth() + 1).padStart(2, "0");
  }

  const show = (metric, v) => (v === null || v === undefined ? "–" : metric === "revenue" ? money(v)
    : ["conversion", "negative_feedback_share", "followup_on_time"].includes(metric) ? pct(v, 1) : String(v));

  function pace(t) {
    if (t.on_pace === null) return "–";
    if (t.expected !== null) {
      const expected = t.metric === "revenue" ? money(t.expected) : Number(t.expected).toFixed(1);
      return (t.on_pace ? "on pace" : "behind") + " (expected " + expected + " by now)";
    }
    return t.on_pace ? "base met" : "below base";
  }

  function renderLeaderboard() {
    const body = $("leaderboard").querySelector("tbody");
    body.replaceChildren(...out.leaderboard.map((r) => el("tr", {"data-rep": r.rep, class: r.rep === selected ? "selected" : null},
      el("td", {text: r.rank}),
      el("td", {}, el("button", {type: "button", class: "pick", "aria-pressed": String(r.rep === selected),
                                 on: {click: () => select(r.rep)}}, r.rep)),
      el("td", {text: r.team || "–"}),
      el("td", {class: "attainment", text: pct(r.attainment, 1)}),
      el("td", {text: money(r.revenue)}),
      el("td", {text: r.target === null ? "no target" : money(r.target)}),
      el("td", {text: r.on_pace === null ? "–" : r.on_pace ? "on pace" : "behind"}))));
    if (!out.leaderboard.length) body.append(el("tr", {}, el("td", {colspan: 7, class: "nodata", text: "No reps in your scope."})));
  }

  function renderCard() {
    const card = [...out.scorecards, ...out.teams].find((c) => c.id === selected);
    const box = $("card");
    if (!card) {
      box.replaceChildren(el("p", {class: "nodata", text: "Pick a rep in the leaderboard."}));
      return;
    }
    const f = card.figures;
    const facts = [["Revenue", money(f.revenue)], ["Orders", f.orders], ["Average order value", money(f.average_order_value)],
      ["New customers", f.new_customers], ["Win rate", pct(f.win_rate, 1)],
      ["Sales cycle", f.sales_cycle_days === null ? "–" : f.sales_cycle_days.toFixed(1) + " d"],
      ["Follow-ups done", pct(f.followup_completion, 1)], ["Follow-ups on time", pct(f.followup_on_time, 1)],
      ["Incident ack (median)", f.ack_median_minutes === null ? "–" : f.ack_median_minutes.toFixed(1) + " min"],
      ["Customers' feedback", f.feedback + " messages, " + pct(f.negative_feedback_share, 1) + " negative"]];
    box.replaceChildren(
      el("h3", {id: "card-name"}, card.kind === "team" ? "Team " + card.id : card.id,
         el("span", {class: "n"}, " · " + (card.team || "no team") + " · " + card.period + " · "
            + pct(card.elapsed) + " of the period gone")),
      el("table", {id: "targets", class: "chart"},
        el("thead", {}, el("tr", {}, ...["Metric", "Actual", "Base", "Of base", "Stretch", "Of stretch", "Pace"]
          .map((h) => el("th", {scope: "col", text: h})))),
        el("tbody", {}, ...(card.targets.length ? card.targets.map((t) => el("tr", {"data-metric": t.metric},
          el("th", {scope: "row", text: humanize(t.metric) + (t.lower_is_better ? " (lower is better)" : "")}),
          el("td", {class: "n", text: show(t.metric, t.actual)}), el("td", {class: "n", text: show(t.metric, t.base)}),
          el("td", {class: "n", text: pct(t.of_base, 1)}), el("td", {class: "n", text: show(t.metric, t.stretch)}),
          el("td", {class: "n", text: pct(t.of_stretch, 1)}), el("td", {text: pace(t)})))
          : [el("tr", {}, el("td", {colspan: 7, class: "nodata", text: "No targets for this period."}))]))),
      el("dl", {class: "facts"}, ...facts.flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {text: String(v)})])),
      el("table", {id: "stages", class: "chart"},
        el("caption", {text: "Conversion to the next funnel stage, against the team's median"}),
        el("thead", {}, el("tr", {}, ...["Stage", "Rate", "Team median", "Difference"].map((h) => el("th", {scope: "col", text: h})))),
        el("tbody", {}, ...Object.entries(card.conversion_by_stage).map(([stage, s]) => el("tr", {},
          el("th", {scope: "row", text: humanize(stage)}), el("td", {class: "n", text: pct(s.rate, 1)}),
          el("td", {class: "n", text: pct(s.team_median, 1)}),
          el("td", {class: "n", text: s.vs_median === null ? "–" : (s.vs_median >= 0 ? "+" : "") + (s.vs_median * 100).toFixed(1) + " pts"}))))));
    if (card.incentive) box.append(el("p", {}, "Incentive: " + money(card.incentive.total) + " (commission "
      + money(card.incentive.commission) + ", team bonus " + money(card.incentive.team_bonus) + ")"));
    if (out.teams.length) box.append(el("p", {}, "Teams: ", ...out.teams.map((t) =>
      el("button", {type: "button", class: "pick", "aria-pressed": String(t.id === selected),
                   on: {click: () => select(t.id)}}, t.id))));
  }

  function select(id) {
    selected = id;
    const url = new URL(location.href);
    url.searchParams.set("rep", id);
    history.replaceState(null, "", url);
    renderLeaderboard();
    renderCard();
    $("announce").textContent = "Scorecard of " + id;
  }

  async function load(period) {
    $("summary").textContent = "Loading " + period + "…";
    const r = await SPSession.api("/scorecards?period=" + encodeURIComponent(period));
    if (r.status !== 200) {
      $("summary").textContent = r.body.error || "The scorecards could not be read (HTTP " + r.status + ").";
      return;
    }
    out = r.body;
    const wanted = new URL(location.href).searchParams.get("rep");
    const ids = [...out.scorecards, ...out.teams].map((c) => c.id);
    selected = ids.includes(wanted) ? wanted : ids.includes(me.id) ? me.id : (out.leaderboard[0] || {}).rep || null;
    $("summary").textContent = out.scorecards.length + " reps in your scope, " + period + ".";
    renderLeaderboard();
    renderCard();
  }

  SPSession.init(async (who) => {
    me = who;
    const period = new URL(location.href).searchParams.get("period") || thisMonth();
    $("period").value = period;
    if (!wired) $("period-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const p = $("period").value.trim();
      const url = new URL(location.href);
      url.searchParams.set("period", p);
      history.replaceState(null, "", url);
      load(p);
    });
    wired = true;
    await load(period);
  });
})();
