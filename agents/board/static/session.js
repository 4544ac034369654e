/* Token login of the My work and customer pages: the incident board's token (sessionStorage, this tab only),
   the login form, who is logged in, and JSON calls that carry the token and send a dead one back to the form. */
"use strict";

const SPSession = (() => {
  const KEY = "salespulse.token";
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(KEY);
  let ready = null;

  async function check(candidate) {
    const r = await fetch("/board/api/me", {headers: {Authorization: "Bearer " + candidate}, cache: "no-store"});
    if (r.status === 401) throw new Error("That token is not known. Check it and try again.");
    if (r.status === 403) throw new Error("That token is a service's; these pages are for people.");
    if (!r.ok) throw new Error("The server could not check the token (HTTP " + r.status + ").");
    return r.json();
  }

  function showLogin(message) {
    token = null;
    sessionStorage.removeItem(KEY);
    $("content").hidden = true;
    $("who").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").value = "";
    $("token").focus();
  }

  async function start() {
    let me;
    try {
      me = await check(token);
    } catch (e) {
      showLogin(e.message);
      return;
    }
    $("who-name").textContent = me.name + (me.region ? ", " + me.region : "");
    $("who").hidden = false;
    $("login").hidden = true;
    $("content").hidden = false;
    await ready(me);
  }

  /** GET or POST JSON -> {status, body} (body {} when not JSON; status 0 when the server is unreachable). */
  async function api(url, {method = "GET", body} = {}) {
    const headers = {Authorization: "Bearer " + token};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let r;
    try {
      r = await fetch(url, {method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (e) {
      return {status: 0, body: {error: "cannot reach the server"}};
    }
    const data = await r.json().catch(() => ({}));
    if (r.status === 401) showLogin("Your token is no longer valid. Log in again.");
    return {status: r.status, body: data};
  }

  /** Wire the login form; `onReady(me)` runs once a token is accepted (at load when the tab has one). */
  function init(onReady) {
    ready = onReady;
    $("login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const candidate = $("token").value.trim();
      if (!candidate) {
        $("login-error").textContent = "Paste your API token first.";
        $("token").focus();
        return;
      }
      try {
        await check(candidate);
      } catch (e) {
        $("login-error").textContent = e.message;
        $("token").focus();
        return;
      }
      token = candidate;
      sessionStorage.setItem(KEY, token);
      await start();
      $("main").focus();
    });
    $("logout").addEventListener("click", () => showLogin("You are logged out."));
    if (token) start(); else showLogin("");
  }

  return {init, api, loggedIn: () => !!token};
})();
