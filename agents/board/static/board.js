/* Incident board: token login (sessionStorage), GET /board/api/incidents, live updates from
   /board/api/stream (server-sent events read with fetch, so the token travels as a bearer header),
   countdowns to the next escalation, Acknowledge / Resolve through POST /incidents/{key}/ack|resolve. */
"use strict";

(() => {
  const {el, clock, when, humanize, pct} = SP;
  const KEY = "salespulse.token";
  const SEVERITIES = ["critical", "high", "medium", "low"];
  const $ = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(KEY);
  let skewMs = 0;            // server clock - browser clock, so countdowns follow the server
  let stream = null;         // AbortController of the open stream
  let refreshTimer = null;
  let pending = {};          // incident key -> "ack" | "resolve" sent, waiting for the state to change
  let shown = new Map();     // incident key -> status on screen (to announce changes)
  const results = {};        // incident key -> the last action's outcome, kept across re-renders

  const auth = () => ({Authorization: "Bearer " + token});

  // -- login ---------------------------------------------------------------------------------
  function showLogin(message) {
    token = null;
    sessionStorage.removeItem(KEY);
    if (stream) stream.abort();
    $("board").hidden = true;
    $("who").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").value = "";
    $("token").focus();
  }

  async function login(candidate) {
    const r = await fetch("/board/api/me", {headers: {Authorization: "Bearer " + candidate}, cache: "no-store"});
    if (r.status === 401) throw new Error("That token is not known. Check it and try again.");
    if (r.status === 403) throw new Error("That token is a service's; the board is for people.");
    if (!r.ok) throw new Error("The server could not check the token (HTTP " + r.status + ").");
    return r.json();
  }

  function showMe(me) {
    const level = me.level_name ? ", " + humanize(me.level_name) + " (level " + me.level + ")" : "";
    $("who-name").textContent = me.name + level + (me.region ? ", " + me.region : "");
    $("who").hidden = false;
    $("login").hidden = true;
    $("board").hidden = false;
  }

  async function start() {
    try {
      showMe(await login(token));
    } catch (e) {
      showLogin(e.message);
      return;
    }
    await refresh();
    listen();
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const candidate = $("token").value.trim();
    if (!candidate) {
      $("login-error").textContent = "Paste your API token first.";
      $("token").focus();
      return;
    }
    try {
      await login(candidate);
    } catch (e) {
      $("login-error").textContent = e.message;
      $("token").focus();
      return;
    }
    token = candidate;
    sessionStorage.setItem(KEY, token);
    $("login-error").textContent = "";
    await start();
    $("main").focus();
  });

  $("logout").addEventListener("click", () => showLogin("You are logged out."));

  // -- data ----------------------------------------------------------------------------------
  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 100);
  }

  async function refresh() {
    if (!token) return;
    let r;
    try {
      r = await fetch("/board/api/incidents", {headers: auth(), cache: "no-store"});
    } catch (e) {
      setLive(false, "Cannot reach the server; retrying.");
      return;
    }
    if (r.status === 401) return showLogin("Your token is no longer valid. Log in again.");
    if (r.status === 429) {  // over this token's read rate: come back when the server says
      const wait = Number(r.headers.get("Retry-After")) || 1;
      setTimeout(scheduleRefresh, wait * 1000);
      return;
    }
    if (!r.ok) return setLive(false, "The server answered HTTP " + r.status + "; retrying.");
    const data = await r.json();
    skewMs = Date.parse(data.now) - Date.now();
    render(data.incidents);
  }

  // -- live stream ---------------------------------------------------------------------------
  function setLive(on, text) {
    const live = $("live");
    live.textContent = text || (on ? "Live" : "Reconnecting…");
    live.classList.toggle("on", !!on);
  }

  async function listen() {
    while (token) {
      const ctrl = new AbortController();
      stream = ctrl;
      try {
        const r = await fetch("/board/api/stream", {headers: auth(), signal: ctrl.signal, cache: "no-store"});
        if (r.status === 401) return showLogin("Your token is no longer valid. Log in again.");
        if (!r.ok || !r.body) throw new Error("HTTP " + r.status);
        setLive(true);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const type = (block.match(/^event: *(.*)$/m) || [])[1];
            if (type === "changed" || type === "hello") scheduleRefresh();
          }
        }
      } catch (e) {
        if (ctrl.signal.aborted) return;
      }
      if (!token) return;
      setLive(false);
      await new Promise((ok) => setTimeout(ok, 1000));
      scheduleRefresh();  // catch up on what happened while the stream was down
    }
  }

  // -- rendering -----------------------------------------------------------------------------
  function badge(kind, value) {
    return el("span", {class: "badge " + kind + "-" + value}, humanize(value));
  }

  function fact(term, ...value) {
    return [el("dt", {}, term), el("dd", {}, ...value)];
  }

  function customerFacts(inc) {
    const c = inc.customer;
    if (!inc.customer_id) return [];
    const parts = [el("a", {href: SP.customerHref(inc.customer_id), class: "customer-link"}, inc.customer_id)];
    if (c && c.segment) parts.push(" · " + c.segment);
    if (c && c.churn_risk !== null && c.churn_risk !== undefined) parts.push(" · churn risk " + pct(c.churn_risk));
    if (!c) parts.push(" · no profile yet");
    return fact("Customer", ...parts);
  }

  function countdown(inc) {
    if (!inc.next_deadline) {
      const text = inc.status === "acknowledged" ? "stopped: acknowledged by " + (inc.acked_by || "someone")
        : "no escalation pending";
      return el("span", {class: "countdown idle"}, text);
    }
    return el("span", {class: "countdown", "data-deadline": inc.next_deadline}, "");
  }

  function tick() {
    const now = Date.now() + skewMs;
    for (const node of document.querySelectorAll(".countdown[data-deadline]")) {
      const left = (Date.parse(node.dataset.deadline) - now) / 1000;
      node.textContent = left > 0 ? "escalates in " + clock(left) : "escalating now (due " + clock(-left) + " ago)";
      node.classList.toggle("soon", left < 60);
    }
  }

  function details(key, kind, summary, body) {
    const d = el("details", {"data-id": key + "|" + kind}, el("summary", {}, summary), body);
    return d;
  }

  function card(inc) {
    const id = "inc-" + btoa(unescape(encodeURIComponent(inc.incident_key))).replace(/[^A-Za-z0-9]/g, "");
    const titleId = id + "-title";
    const busy = pending[inc.incident_key];
    const acked = inc.status === "acknowledged";
    const chain = el("ol", {class: "chain"}, inc.chain.map((s) =>
      el("li", {class: s.current ? "current" : null, "aria-current": s.current ? "step" : null},
        humanize(s.name) + " (level " + s.level + ")" + (s.people.length ? ": " + s.people.join(", ") : ""),
        s.current ? el("span", {class: "sr-only"}, " (current)") : null)));
    const playbook = inc.playbook
      ? details(inc.incident_key, "playbook", "Playbook: " + humanize(inc.playbook.name),
        [inc.playbook.summary ? el("p", {}, inc.playbook.summary) : null,
         el("ol", {class: "steps"}, inc.playbook.steps.map((s) =>
           el("li", {}, s.action, el("span", {class: "owner"}, " — " + humanize(s.owner)))))])
      : null;
    const feedback = inc.feedback.length
      ? details(inc.incident_key, "feedback", "Recent feedback (" + inc.feedback.length + ")",
        el("ul", {class: "feedback"}, inc.feedback.map((f) =>
          el("li", {}, el("q", {}, f.text),
            el("span", {class: "meta"}, " " + humanize(f.sentiment) + ", " + humanize(f.category) + ", "
              + f.channel + ", " + when(f.occurred_at))))))
      : null;
    const status = el("p", {class: "result", id: id + "-result", role: "status"}, results[inc.incident_key] || "");
    const button = (kind, label) => el("button", {
      type: "button", class: kind === "resolve" ? "secondary" : null,
      "aria-describedby": titleId, disabled: !!busy || (kind === "ack" && acked),
      "data-action": kind, on: {click: () => act(inc, kind, status)},
    }, label);
    return el("article", {class: "incident sev-" + inc.severity + (acked ? " is-acked" : ""), id,
                          "data-key": inc.incident_key, "data-status": inc.status, "aria-labelledby": titleId},
      el("header", {},
        el("h4", {id: titleId}, inc.title),
        el("p", {class: "badges"}, badge("sev", inc.severity), " ", badge("status", inc.status),
          inc.count > 1 ? el("span", {class: "badge count"}, "×" + inc.count) : null)),
      el("dl", {class: "facts"},
        fact("Level", humanize(inc.level_name) + " (level " + inc.level + (inc.loop ? ", pass " + (inc.loop + 1) : "") + ")"),
        fact("Next", countdown(inc)),
        customerFacts(inc),
        fact("Category", humanize(inc.category) + (inc.region ? " · " + inc.region : "") + (inc.sku ? " · " + inc.sku : "")),
        fact("First seen", el("time", {datetime: inc.first_seen}, when(inc.first_seen)))),
      details(inc.incident_key, "chain",
        "Escalation chain (" + [inc.route, ...inc.boosts].join(", ") + ")", chain),
      playbook, feedback,
      el("div", {class: "actions"}, button("ack", acked ? "Acknowledged" : "Acknowledge"), button("resolve", "Resolve")),
      status);
  }

  function render(incidents) {
    const active = document.activeElement;
    const focus = active && active.closest && active.closest("article[data-key]")
      ? [active.closest("article").dataset.key, active.dataset.action || active.closest("details")?.dataset.id] : null;
    const open = new Set([...document.querySelectorAll("details[open]")].map((d) => d.dataset.id));

    const next = new Map(incidents.map((i) => [i.incident_key, i.status]));
    const changes = [];
    for (const inc of incidents) {
      const before = shown.get(inc.incident_key);
      if (before === undefined && shown.size) changes.push("New " + inc.severity + " incident: " + inc.title);
      else if (before && before !== inc.status) changes.push(inc.title + " is now " + humanize(inc.status));
      if (before && before !== inc.status) {
        delete pending[inc.incident_key];
        results[inc.incident_key] = "Now " + humanize(inc.status) + ".";
      }
    }
    for (const key of shown.keys()) if (!next.has(key)) delete pending[key];
    shown = next;

    const groups = $("groups");
    groups.replaceChildren(...SEVERITIES.map((sev) => {
      const mine = incidents.filter((i) => i.severity === sev);
      if (!mine.length) return null;
      return el("section", {class: "group", "aria-labelledby": "group-" + sev},
        el("h3", {id: "group-" + sev}, humanize(sev) + " ", el("span", {class: "n"}, "(" + mine.length + ")")),
        el("div", {class: "cards"}, mine.map(card)));
    }).filter(Boolean));
    $("empty").hidden = incidents.length > 0;
    const waiting = incidents.filter((i) => i.status === "triggered").length;
    $("summary").textContent = incidents.length + " open, " + waiting + " waiting for an acknowledgement";
    for (const d of document.querySelectorAll("details")) if (open.has(d.dataset.id)) d.open = true;
    if (focus) {
      const art = document.querySelector('article[data-key="' + CSS.escape(focus[0]) + '"]');
      const target = art && (art.querySelector('[data-action="' + focus[1] + '"]:not([disabled])')
        || art.querySelector('details[data-id="' + CSS.escape(focus[1] || "") + '"] summary')
        || art.querySelector("button:not([disabled])"));
      if (target) target.focus();
    }
    if (changes.length) $("announce").textContent = changes.join(". ");
    tick();
  }

  async function act(inc, kind, status) {
    const verb = kind === "ack" ? "Acknowledge" : "Resolve";
    pending[inc.incident_key] = kind;
    for (const b of document.querySelectorAll('article[data-key="' + CSS.escape(inc.incident_key) + '"] button')) b.disabled = true;
    const say = (text) => { results[inc.incident_key] = text; status.textContent = text; };
    say(verb + " sent…");
    let r;
    try {
      r = await fetch("/incidents/" + encodeURIComponent(inc.incident_key) + "/" + kind, {
        method: "POST", headers: {...auth(), "Content-Type": "application/json"},
        body: JSON.stringify({comment: "from the incident board"}),
      });
    } catch (e) {
      r = null;
    }
    if (r && r.status === 202) {
      if (pending[inc.incident_key]) say(verb + " accepted; waiting for the worker to apply it.");
      return;
    }
    delete pending[inc.incident_key];
    const body = r ? await r.json().catch(() => ({})) : {};
    say(verb + " failed: " + (body.error || (r ? "HTTP " + r.status : "cannot reach the server")));
    if (r && r.status === 401) return showLogin("Your token is no longer valid. Log in again.");
    scheduleRefresh();
  }

  setInterval(tick, 1000);
  setInterval(() => { if (token) scheduleRefresh(); }, 30000);  // belt and braces if a stream stalls silently
  if (token) start(); else showLogin("");
})();
