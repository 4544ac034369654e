/* KPI overview: GET /kpis?window=month,total (the board's token from sessionStorage) -> headline tiles
   and three charts drawn as inline SVG, each with its numbers in a table as well (readable without the
   picture). Refreshes every 30 s. A regional reader's figures are those of their region. */
"use strict";

(() => {
  const {el, svg, num, money, pct, humanize} = SP;
  const $ = (id) => document.getElementById(id);
  const STAGES = ["lead", "qualified", "proposal", "negotiation", "won"];
  const BAR = "#1d4ed8", BAR2 = "#0f766e", TARGET = "#a4161a";

  const latest = (snaps) => (snaps || []).filter((s) => s.bucket_start !== undefined)
    .sort((a, b) => String(a.bucket_start).localeCompare(String(b.bucket_start))).pop() || null;
  const rowOf = (snap, dim, value) => (snap ? snap.rows.find((r) => r.dimension === dim && (value === undefined || r.value === value)) : null);

  function tile(title, value, sub) {
    return el("section", {class: "tile", "aria-label": title},
      el("h3", {}, title), el("p", {class: "value"}, value), sub ? el("p", {class: "sub"}, sub) : null);
  }

  function table(caption, head, rows) {
    return el("details", {}, el("summary", {}, "Show the numbers"),
      el("table", {}, el("caption", {class: "sr-only"}, caption),
        el("thead", {}, el("tr", {}, head.map((h, i) => el("th", {scope: "col", class: i ? "n" : null}, h)))),
        el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => i ? el("td", {class: "n"}, c) : el("th", {scope: "row"}, c)))))));
  }

  /** Horizontal bars: items = [{label, value, text, marker?}], scaled to max (or `scale`). */
  function bars(title, items, {scale, color = BAR, markerLabel} = {}) {
    const rowH = 34, labelW = 130, width = 480, barW = width - labelW - 90;
    const max = scale || Math.max(1e-9, ...items.map((i) => i.value), ...items.map((i) => i.marker || 0));
    const height = items.length * rowH + 10;
    const summary = title + ": " + items.map((i) => i.label + " " + i.text).join("; ");
    return svg("svg", {viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": summary},
      items.map((it, n) => {
        const y = n * rowH + 5, w = Math.max(0, Math.min(1.5, it.value / max)) * barW;
        return svg("g", {},
          svg("text", {x: labelW - 8, y: y + 20, "text-anchor": "end"}, it.label),
          svg("rect", {x: labelW, y: y + 4, width: Math.max(w, 1), height: rowH - 12, rx: 3, fill: color}),
          svg("text", {x: labelW + Math.max(w, 1) + 6, y: y + 20}, it.text),
          it.marker !== undefined && it.marker !== null
            ? svg("line", {x1: labelW + (it.marker / max) * barW, x2: labelW + (it.marker / max) * barW,
                           y1: y + 1, y2: y + rowH - 5, stroke: TARGET, "stroke-width": 3},
                svg("title", {}, markerLabel || "target"))
            : null);
      }));
  }

  function none(node, text) {
    node.replaceChildren(el("p", {class: "nodata"}, text));
  }

  function render(data) {
    const month = latest(data.windows.month), total = latest(data.windows.total);
    const allM = rowOf(month, "all"), allT = rowOf(total, "all");
    $("asof").textContent = "As of " + new Date(data.as_of).toLocaleString()
      + (data.region ? ", region " + data.region : "") + (data.currency ? ", amounts in " + data.currency : "")
      + " (refreshes every 30 s)";
    $("tiles").replaceChildren(
      tile("Orders this month", allM ? String(allM.orders) : "0", allT ? allT.orders + " to date" : null),
      tile("Revenue this month", money(allM && allM.revenue), allT ? money(allT.revenue) + " to date" : null),
      tile("Average order value", money(allM && allM.average_order_value),
        allT ? money(allT.average_order_value) + " to date" : null),
      tile("Repeat-purchase rate", pct(allM && allM.repeat_purchase_rate), "this month"));

    const channels = month ? month.rows.filter((r) => r.dimension === "channel") : [];
    if (channels.length) {
      channels.sort((a, b) => num(b.revenue) - num(a.revenue));
      $("channel-chart").replaceChildren(
        bars("Revenue by channel", channels.map((r) => ({label: r.value, value: num(r.revenue), text: money(r.revenue)}))),
        table("Revenue by channel this month", ["Channel", "Orders", "Revenue", "Avg order"],
          channels.map((r) => [r.value, r.orders, money(r.revenue), money(r.average_order_value)])));
    } else none($("channel-chart"), "No orders this month yet.");

    const funnel = total && total.funnel.find((f) => f.dimension === "all");
    if (funnel && (funnel.reached.lead || 0) > 0) {
      const lead = funnel.reached.lead;
      $("funnel-chart").replaceChildren(
        bars("Conversion funnel", STAGES.map((s) => ({
          label: humanize(s), value: funnel.reached[s] || 0,
          text: (funnel.reached[s] || 0) + " (" + pct((funnel.reached[s] || 0) / lead) + ")",
        })), {color: BAR2}),
        el("p", {class: "sub"}, "Overall conversion " + pct(funnel.overall_conversion, 1) + ", " + funnel.lost + " lost"),
        table("Conversion funnel to date", ["Stage", "Reached", "Of leads", "To next stage"],
          STAGES.map((s) => [humanize(s), funnel.reached[s] || 0, pct((funnel.reached[s] || 0) / lead),
            s === "won" ? "–" : pct(funnel.conversion[s])])));
    } else none($("funnel-chart"), "No opportunities yet.");

    const teams = month ? month.targets.filter((t) => t.kind === "team") : [];
    if (teams.length) {
      const scale = Math.max(1, ...teams.map((t) => num(t.attainment) || 0), ...teams.map((t) => num(t.elapsed)));
      $("targets-chart").replaceChildren(
        bars("Target attainment by team", teams.map((t) => ({
          label: t.team, value: num(t.attainment) || 0, marker: num(t.elapsed),
          text: pct(t.attainment) + (t.on_track ? " on track" : " behind"),
        })), {scale, markerLabel: "share of the month elapsed (the pace line)"}),
        el("p", {class: "sub"}, "Bars: revenue against the monthly target. Red line: share of the month elapsed."),
        table("Target attainment by team this month", ["Team", "Target", "Actual", "Attainment", "Pace"],
          teams.map((t) => [t.team, money(t.target), money(t.actual), pct(t.attainment), pct(t.pace)])));
    } else none($("targets-chart"), "No targets for this month (config/targets.yaml).");
  }

  async function load() {
    const token = sessionStorage.getItem("salespulse.token");  // the incident board's login
    if (!token) {
      $("asof").replaceChildren("Log in on the ", el("a", {href: "/board"}, "incident board"),
        " first: the KPIs need your API token.");
      return;
    }
    try {
      const r = await fetch("/kpis?window=month,total", {headers: {Authorization: "Bearer " + token}, cache: "no-store"});
      if (!r.ok) throw new Error("HTTP " + r.status);
      render(await r.json());
    } catch (e) {
      $("asof").textContent = "Could not load the KPIs (" + e.message + "); retrying in 30 s.";
    }
  }

  load();
  setInterval(load, 30000);
})();
