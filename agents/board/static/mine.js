/* My work: the logged-in person's follow-ups (GET /followups?mine=1), cases (GET /cases?mine=1) and the incidents
   they may act on (GET /board/api/incidents: the rule the ack route applies), each sorted by due time, with
   their actions (POST /followups/{id}/start|done|snooze|dismiss, /cases/{id}/respond|resolve,
   /incidents/{key}/ack|resolve). A route that answers 404 is not on this server yet: its section says so.
   Coaching (GET /coaching: a lead's team, a rep's own) lists reps behind their team with the training
   assigned (POST /coaching/{id}/assign|done); shown to whoever is not a rep, and to a rep who has an item. */
"use strict";

(() => {
  const {el, when, humanize, span, customerHref} = SP;
  const $ = (id) => document.getElementById(id);
  const FINAL = {followups: ["done", "dismissed"], cases: ["resolved"], coaching: ["done", "recovered"]};
  const NAMES = {followups: "Follow-ups", cases: "Cases", incidents: "Incidents", coaching: "Coaching items"};
  const DUE = ["followups", "cases", "incidents"];   // the kinds with due times (the summary counts these)

  const data = {followups: null, cases: null, incidents: null, coaching: null};   // rows, or {missing|error: text}
  const results = {};     // "kind|id" -> the last action's outcome, kept across re-renders
  const busy = {};        // "kind|id" -> an action is in flight
  let skewMs = 0;
  let me = null;          // /board/api/me: who is logged in (a rep acts on their own coaching item only when done)

  const metricName = (m) => (m === "ack_minutes" ? "acknowledgement time" : m === "sentiment" ? "customer sentiment"
    : "conversion from " + humanize(m.replace(/^conversion_/, "")));
  const vsPeers = (m, v, median) => metricValue(m, v) + " (peers " + metricValue(m, median) + ")";
  // a coaching metric's value as people read it: conversion in %, acknowledgement in minutes, sentiment -1..1
  function metricValue(metric, v) {
    if (v === null || v === undefined) return "–";
    if (metric.startsWith("conversion_")) return Math.round(v * 100) + "%";
    if (metric === "ack_minutes") return Math.round(v) + " min";
    return (v > 0 ? "+" : "") + v.toFixed(2);
  }

  // -- the three kinds, read from the contracts' fields ------------------------------------------
  const KINDS = {
    followups: {
      id: (f) => f.id,
      due: (f) => (f.state === "snoozed" ? f.snoozed_until : f.due_at),
      title: (f) => "Follow up: " + humanize(f.reason),
      customer: (f) => f.customer_id,
      state: (f) => f.state,
      facts: (f) => [
        f.state === "snoozed" && f.snoozed_until ? ["Snoozed until", when(f.snoozed_until)] : null,
        f.assignee ? ["For", f.assignee] : null,
        f.detail ? ["Why", f.detail] : null],
      actions: (f) => ({open: ["start", "done", "snooze", "dismiss"], in_progress: ["done", "snooze", "dismiss"],
                        snoozed: ["dismiss"]}[f.state] || []),
      url: (f, a) => "/followups/" + encodeURIComponent(f.id) + "/" + a,
    },
    cases: {
      id: (c) => c.id,
      due: (c) => (c.state === "open" ? c.first_response_due : c.resolution_due),
      dueLabel: (c) => (c.state === "open" ? "first response" : "resolution"),
      title: (c) => "Case: " + humanize(c.category),
      customer: (c) => c.customer_id,
      state: (c) => c.state,
      facts: (c) => [
        c.breach ? ["SLA", humanize(c.breach) + " breached"] : null,
        ["Messages", String(c.feedback_count ?? 0)],
        c.owner ? ["Owner", c.owner] : null,
        c.incident_key ? ["Incident", c.incident_key] : null],
      actions: (c) => ({open: ["respond", "resolve"], responded: ["resolve"]}[c.state] || []),
      url: (c, a) => "/cases/" + encodeURIComponent(c.id) + "/" + a,
    },
    incidents: {
      id: (i) => i.incident_key,
      due: (i) => i.next_deadline,
      dueLabel: () => "escalates",
      title: (i) => i.title,
      customer: (i) => i.customer_id,
      state: (i) => i.status,
      facts: (i) => [["Severity", humanize(i.severity)], ["Level", humanize(i.level_name)]],
      actions: (i) => (i.status === "acknowledged" ? ["resolve"] : ["ack", "resolve"]),
      url: (i, a) => "/incidents/" + encodeURIComponent(i.incident_key) + "/" + a,
    },
    coaching: {
      id: (c) => c.id,
      due: () => null,
      title: (c) => "Coaching: " + c.rep + ", " + metricName(c.metric),
      customer: () => null,
      state: (c) => c.state,
      facts: (c) => [
        ["Rep", c.rep + " (" + c.team + ")"],
        ["When opened", vsPeers(c.metric, c.opened_value, c.opened_median)],
        ["Latest", vsPeers(c.metric, c.current_value, c.current_median)],
        ["Training", c.assignment ? c.assignment.topic
          : c.topic_link ? el("a", {href: c.topic_link, rel: "noopener"}, c.topic_title || c.topic, " (suggested)")
          : (c.topic_title || c.topic) + " (suggested)"],
        c.assignment ? ["Before / after", metricValue(c.metric, c.assignment.before_value) + " / "
          + metricValue(c.metric, c.assignment.after_value)] : null],
      // assigning is for the lead (or manager); the rep marks their own training done
      actions: (c) => ({open: me && me.id === c.rep ? [] : ["assign"], assigned: ["done"]}[c.state] || []),
      url: (c, a) => "/coaching/" + encodeURIComponent(c.id) + "/" + a,
    },
  };
  const LABELS = {start: "Start", done: "Done", snooze: "Snooze", dismiss: "Dismiss", respond: "Mark responded",
                  resolve: "Resolve", ack: "Acknowledge", assign: "Assign training"};

  // -- loading -----------------------------------------------------------------------------------
  async function load(kind, url, pick) {
    const {status, body} = await SPSession.api(url);
    if (status === 404) data[kind] = {missing: NAMES[kind] + " are not tracked on this server yet."};
    else if (status === 200) data[kind] = pick(body);
    else data[kind] = {error: "Could not load " + NAMES[kind].toLowerCase() + ": " + (body.error || "HTTP " + status)};
    if (status === 200 && body.now) skewMs = Date.parse(body.now) - Date.now();
  }

  async function refresh() {
    if (!SPSession.loggedIn()) return;
    await Promise.all([
      // every state: "open" alone might leave out started and snoozed work; finished work is dropped here
      load("followups", "/followups?mine=1&state=all", (b) => (b.followups || []).filter((f) => !FINAL.followups.includes(f.state))),
      load("cases", "/cases?mine=1&state=all", (b) => (b.cases || []).filter((c) => !FINAL.cases.includes(c.state))),
      load("incidents", "/board/api/incidents", (b) => b.incidents || []),
      load("coaching", "/coaching?state=open", (b) => b.items || []),
    ]);
    const rows = data.coaching;
    $("coaching-section").hidden = !(me && me.role !== "account_rep") && !(Array.isArray(rows) && rows.length);
    render();
  }

  // -- rendering ---------------------------------------------------------------------------------
  const key = (kind, row) => kind + "|" + KINDS[kind].id(row);
  const domId = (k) => "w-" + btoa(unescape(encodeURIComponent(k))).replace(/[^A-Za-z0-9]/g, "");
  const dueMs = (kind, row) => { const d = KINDS[kind].due(row); return d ? Date.parse(d) : Infinity; };

  function dueText(kind, row) {
    const d = KINDS[kind].due(row);
    if (kind === "coaching") return el("span", {class: "due idle"}, "behind the team since " + when(row.opened_at));
    if (!d) return el("span", {class: "due idle"}, kind === "incidents" ? "no escalation pending" : "no due time");
    const left = (Date.parse(d) - Date.now() - skewMs) / 1000;
    const what = KINDS[kind].dueLabel ? KINDS[kind].dueLabel(row) + " " : "due ";
    return el("time", {class: "due" + (left < 0 ? " overdue" : left < 3600 ? " soon" : ""), datetime: d,
                       title: new Date(d).toLocaleString()},
      left < 0 ? what.trim() + " " + span(left) + " ago (overdue)" : what + "in " + span(left));
  }

  function actionForm(kind, row, action, say) {
    // snooze needs a time, dismiss a reason: a small form behind a disclosure, so the row stays short
    const k = key(kind, row), fid = domId(k) + "-" + action;
    const input = action === "snooze"
      ? el("input", {id: fid, type: "datetime-local", required: true, value: tomorrowNine()})
      : el("input", {id: fid, type: "text", required: true, maxlength: 500, autocomplete: "off"});
    const form = el("form", {class: "inline", novalidate: true},
      el("label", {for: fid}, action === "snooze" ? "Snooze until" : "Reason"), input,
      el("button", {type: "submit", class: "secondary", disabled: !!busy[k]}, LABELS[action]));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!input.value.trim()) { say((action === "snooze" ? "Pick a time" : "Give a reason") + " first."); input.focus(); return; }
      const body = action === "snooze" ? {until: new Date(input.value).toISOString()} : {reason: input.value.trim()};
      act(kind, row, action, body);
    });
    return el("details", {class: "more", "data-id": k + "|" + action}, el("summary", {}, LABELS[action] + "…"), form);
  }

  function tomorrowNine() {
    const d = new Date(Date.now() + 86400000);
    d.setHours(9, 0, 0, 0);
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T09:00";
  }

  function item(kind, row) {
    const K = KINDS[kind], k = key(kind, row), id = domId(k);
    const status = el("p", {class: "result", id: id + "-result", role: "status"}, results[k] || "");
    const say = (t) => { results[k] = t; status.textContent = t; };
    const customer = K.customer(row);
    const buttons = K.actions(row).map((a) => (a === "snooze" || a === "dismiss") ? actionForm(kind, row, a, say)
      : el("button", {type: "button", class: a === "resolve" || a === "done" ? "secondary" : null,
                      "data-action": a, "aria-describedby": id + "-title", disabled: !!busy[k],
                      on: {click: () => act(kind, row, a)}}, LABELS[a]));
    const facts = K.facts(row).filter(Boolean);
    const due = dueMs(kind, row);
    return el("li", {},
      el("article", {class: "work-item" + (due < Date.now() + skewMs ? " is-overdue" : ""), id,
                     "data-kind": kind, "data-id": K.id(row), "data-state": K.state(row), "aria-labelledby": id + "-title"},
        el("header", {},
          el("h3", {id: id + "-title"}, K.title(row)),
          el("p", {class: "badges"}, el("span", {class: "badge state-" + K.state(row)}, humanize(K.state(row))),
            kind === "incidents" ? el("span", {class: "badge sev-" + row.severity}, humanize(row.severity)) : null)),
        el("p", {class: "when"}, dueText(kind, row)),
        el("dl", {class: "facts"},
          customer ? [el("dt", {}, "Customer"), el("dd", {}, el("a", {href: customerHref(customer)}, customer))] : null,
          facts.flatMap(([t, v]) => [el("dt", {}, t), el("dd", {}, v)])),
        buttons.length ? el("div", {class: "actions"}, buttons) : null,
        status));
  }

  function section(kind) {
    const got = data[kind], box = $(kind);
    if (got === null) return;
    if (!Array.isArray(got)) {
      $(kind + "-n").textContent = "";
      box.replaceChildren(el("p", {class: got.error ? "error" : "nodata"}, got.error || got.missing));
      return;
    }
    const rows = [...got].sort((a, b) => dueMs(kind, a) - dueMs(kind, b));
    $(kind + "-n").textContent = "(" + rows.length + ")";
    box.replaceChildren(rows.length ? el("ol", {class: "work-list"}, rows.map((r) => item(kind, r)))
      : el("p", {class: "nodata"}, "Nothing here for you right now."));
  }

  function render() {
    const active = document.activeElement;
    const art = active && active.closest ? active.closest("article[data-kind]") : null;
    const focus = art ? [art.id, active.dataset.action || active.closest("details")?.dataset.id, active.tagName] : null;
    // a refresh must not close a half-filled snooze or dismiss form, nor drop what was typed in it
    const open = new Map([...document.querySelectorAll("details[open]")]
      .map((d) => [d.dataset.id, d.querySelector("input") ? d.querySelector("input").value : null]));
    for (const kind of Object.keys(KINDS)) section(kind);
    for (const d of document.querySelectorAll("details")) {
      if (!open.has(d.dataset.id)) continue;
      d.open = true;
      const input = d.querySelector("input");
      if (input && open.get(d.dataset.id) !== null) input.value = open.get(d.dataset.id);
    }
    if (focus) {
      const a = $(focus[0]);
      const inForm = focus[2] === "INPUT" && a && a.querySelector('details[data-id="' + CSS.escape(focus[1] || "") + '"] input');
      const target = a && (inForm || a.querySelector('[data-action="' + focus[1] + '"]:not([disabled])')
        || a.querySelector('details[data-id="' + CSS.escape(focus[1] || "") + '"] summary')
        || a.querySelector("button:not([disabled]), summary") || a.querySelector(".result"));
      if (target) target.focus();
    }
    const now = Date.now() + skewMs;
    const lists = DUE.filter((k) => Array.isArray(data[k]));
    const all = lists.flatMap((k) => data[k].map((r) => dueMs(k, r)));
    const overdue = all.filter((d) => d < now).length;
    $("summary").textContent = all.length + " open item" + (all.length === 1 ? "" : "s")
      + (overdue ? ", " + overdue + " overdue" : "") + ". Soonest due first.";
  }

  async function act(kind, row, action, body) {
    const K = KINDS[kind], k = key(kind, row);
    busy[k] = true;
    for (const b of document.querySelectorAll("#" + domId(k) + " button")) b.disabled = true;
    const say = (t) => { results[k] = t; const n = $(domId(k) + "-result"); if (n) n.textContent = t; };
    say(LABELS[action] + " sent…");
    const r = await SPSession.api(K.url(row, action), {method: "POST", body: body || {comment: "from My work"}});
    delete busy[k];
    if (r.status === 200 && r.body && K.id(r.body) !== undefined) {
      // the answer is the row as it is now: show it without waiting for a reload
      const rows = data[kind];
      const i = Array.isArray(rows) ? rows.findIndex((x) => K.id(x) === K.id(r.body)) : -1;
      if (i >= 0) rows[i] = r.body;
      say("Now " + humanize(K.state(r.body)) + ".");
      if (FINAL[kind] && FINAL[kind].includes(K.state(r.body))) {
        rows.splice(i, 1);
        $("announce").textContent = K.title(row) + ": " + humanize(K.state(r.body)) + ".";
      }
      render();
      return;
    }
    if (r.status === 202) {   // incidents: the worker applies the command, the list catches up
      say(LABELS[action] + " accepted; updating…");
      render();
      setTimeout(refresh, 1000);
      setTimeout(refresh, 3000);   // a busy worker applies it a little later
      return;
    }
    const why = r.body.error || (r.status ? "HTTP " + r.status : "cannot reach the server");
    say(LABELS[action] + " failed: " + why);
    $("announce").textContent = K.title(row) + ": " + LABELS[action].toLowerCase() + " failed: " + why;
    render();
    if (r.status === 409 || r.status === 404) setTimeout(refresh, 500);   // someone else changed it first
  }

  setInterval(refresh, 30000);
  SPSession.init((who) => { me = who; refresh(); });
})();
