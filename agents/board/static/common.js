/* Shared helpers of the board pages: DOM building (text only, never HTML strings) and number formats. */
"use strict";

const SP = (() => {
  const SVG_NS = "http://www.w3.org/2000/svg";

  function fill(node, attrs, children) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  /** el("p", {class: "x"}, "text", child) */
  const el = (tag, attrs, ...children) => fill(document.createElement(tag), attrs, children);
  const svg = (tag, attrs, ...children) => fill(document.createElementNS(SVG_NS, tag), attrs, children);

  const num = (v) => (v === null || v === undefined || v === "" ? null : Number(v));
  const money = (v, currency) => {
    const n = num(v);
    if (n === null || Number.isNaN(n)) return "–";
    return n.toLocaleString(undefined, {maximumFractionDigits: 2, minimumFractionDigits: n % 1 ? 2 : 0})
      + (currency ? " " + currency : "");
  };
  const pct = (v, digits = 0) => (num(v) === null ? "–" : (num(v) * 100).toFixed(digits) + " %");

  /** 75 -> "1:15", 4000 -> "1:06:40" */
  function clock(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString(undefined, {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"});
  }

  const humanize = (s) => (s || "").replace(/_/g, " ");

  /** seconds -> "45 min", "3 h 20 min", "2 d 4 h" (coarse: a person plans with it) */
  function span(seconds) {
    const m = Math.max(1, Math.round(Math.abs(seconds) / 60));
    if (m < 60) return m + " min";
    const h = Math.floor(m / 60);
    if (h < 48) return h + " h" + (m % 60 ? " " + (m % 60) + " min" : "");
    return Math.floor(h / 24) + " d" + (h % 24 ? " " + (h % 24) + " h" : "");
  }

  const customerHref = (id) => "/board/customer?id=" + encodeURIComponent(id);

  return {el, svg, num, money, pct, clock, when, humanize, span, customerHref};
})();
