/* Customer page (/board/customer?id=...): the profile (GET /customers/{id}: RFM segment, churn risk, spend) and
   one timeline of orders, feedback, cases, incidents and follow-ups (GET /customers/{id}/timeline), newest
   first, with a filter per kind. Both routes answer 404 outside the reader's scope, as for an unknown id. */
"use strict";

(() => {
  const {el, when, humanize, pct, money} = SP;
  const $ = (id) => document.getElementById(id);
  const KIND_NAMES = {order: "Orders", feedback: "Feedback", "case": "Cases", incident: "Incidents", followup: "Follow-ups"};
  const customerId = new URLSearchParams(location.search).get("id") || "";
  const hidden = new Set();   // kinds switched off
  let entries = [];

  function tile(title, value, sub) {
    return el("section", {class: "tile", "aria-label": title},
      el("h3", {}, title), el("p", {class: "value"}, value), sub ? el("p", {class: "sub"}, sub) : null);
  }

  function showProfile(p) {
    const cur = p.currency || "";
    const rfm = p.rfm;
    $("tiles").replaceChildren(
      tile("Segment", rfm ? rfm.segment : "–", rfm ? "RFM " + rfm.r + "-" + rfm.f + "-" + rfm.m : "not scored yet"),
      tile("Churn risk", pct(p.churn_risk), p.mean_days_between_orders >= 1 ? "orders every "
        + Math.round(p.mean_days_between_orders) + " days on average" : null),
      tile("Orders", String(p.orders_count), p.last_order_at ? "last " + when(p.last_order_at) : null),
      tile("Spend", money(p.total_spend, cur), p.average_order_value ? money(p.average_order_value, cur) + " per order" : null));
    const facts = [
      ["Owner rep", p.owner_rep_id], ["Region", p.region], ["Favourite category", humanize(p.favourite_category)],
      ["Feedback", p.feedback_count ? p.feedback_count + (p.feedback_count === 1 ? " message, " : " messages, ")
        + pct(p.negative_share) + " negative" : null],
      ["Open incidents", p.open_incidents ? String(p.open_incidents) : null],
      ["First order", p.first_order_at ? when(p.first_order_at) : null],
      ["Refunds", num0(p.refunds) ? money(p.refunds, cur) : null]];
    $("facts").replaceChildren(...facts.filter(([, v]) => v).flatMap(([t, v]) => [el("dt", {}, t), el("dd", {}, v)]));
    $("profile").hidden = false;
  }

  const num0 = (v) => (v === null || v === undefined ? 0 : Number(v));

  function kindFilters() {
    const kinds = Object.keys(KIND_NAMES).concat([...new Set(entries.map((e) => e.kind))].filter((k) => !(k in KIND_NAMES)));
    const box = $("kinds");
    box.replaceChildren(el("legend", {}, "Show"), ...kinds.map((k) => {
      const id = "kind-" + k.replace(/[^A-Za-z0-9_-]/g, "");
      const n = entries.filter((e) => e.kind === k).length;
      return el("span", {class: "kind-toggle"},
        el("input", {type: "checkbox", id, checked: !hidden.has(k), on: {change: (ev) => {
          if (ev.target.checked) hidden.delete(k); else hidden.add(k);
          renderTimeline();
        }}}),
        el("label", {for: id}, (KIND_NAMES[k] || humanize(k)) + " (" + n + ")"));
    }));
  }

  function line(e) {
    const overdue = e.due_at && Date.parse(e.due_at) < Date.now();
    const settled = ["resolved", "done", "dismissed"].includes(e.state);   // no longer needs attention
    return el("li", {class: "entry kind-" + e.kind + (e.severity && !settled ? " sev-" + e.severity : ""), "data-kind": e.kind, "data-id": e.id},
      el("p", {class: "at"}, el("time", {datetime: e.at}, when(e.at))),
      el("div", {class: "body"},
        el("p", {class: "what"},
          el("span", {class: "badge kind"}, humanize(e.kind === "followup" ? "follow-up" : e.kind)), " ",
          el("span", {class: "title"}, e.title)),
        el("p", {class: "meta"},
          e.state ? el("span", {class: "state"}, humanize(e.state)) : null,
          e.state && (e.detail || e.due_at) ? " · " : null,
          e.detail || null,
          e.detail && e.due_at ? " · " : null,
          e.due_at ? el("span", {class: overdue ? "overdue" : null},
            (e.kind === "incident" ? (overdue ? "was to escalate " : "escalates ") : overdue ? "was due " : "due ")
              + when(e.due_at)) : null)));
  }

  function renderTimeline() {
    const shown = entries.filter((e) => !hidden.has(e.kind));
    $("timeline").replaceChildren(...shown.map(line));
    $("timeline-n").textContent = "(" + shown.length + (shown.length < entries.length ? " of " + entries.length : "") + ")";
    $("timeline-empty").hidden = entries.length > 0;
  }

  async function load() {
    if (!customerId) {
      $("status").textContent = "No customer named: open this page from a card (it needs ?id=).";
      return;
    }
    $("title").textContent = "Customer " + customerId;
    document.title = customerId + " · Customer · SalesPulse";
    const enc = encodeURIComponent(customerId);
    const [profile, history] = await Promise.all([
      SPSession.api("/customers/" + enc), SPSession.api("/customers/" + enc + "/timeline")]);
    if (profile.status === 401 || history.status === 401) return;
    if (profile.status === 404 && history.status === 404) {
      $("status").textContent = "No customer " + customerId + " that you may see.";
      return;
    }
    const problems = [];
    if (profile.status === 200) showProfile(profile.body);
    else if (profile.status === 404) problems.push("No profile yet: this customer has not ordered.");
    else problems.push("The profile could not be read: " + (profile.body.error || "HTTP " + profile.status));
    if (history.status === 200) {
      entries = history.body.entries || [];
      $("incomplete").hidden = !history.body.incomplete;
      kindFilters();
      renderTimeline();
      $("history").hidden = false;
    } else problems.push("The timeline could not be read: " + (history.body.error || "HTTP " + history.status));
    $("status").textContent = problems.join(" ");
    $("status").hidden = !problems.length;
  }

  SPSession.init(() => load());
})();
