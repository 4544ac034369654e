"""Hostile HTTP against a real worker over real sockets: broken and unknown encodings, deep JSON, clients
that leave mid-body or dribble their head or body, too many connections; every answer's headers."""

from __future__ import annotations

import gzip
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import yaml

from agents.escalation.auth import hash_token as person_token_hash
from tests.integration.test_http_ingest import as_json, auth, token_env, tokens
from tests.support.factories import make_incident, make_order
from tests.support.services import ROOT, metric_value, query, wait_until
from schemas.events import Channel

pytestmark = pytest.mark.integration

DEEP = b"[" * 100_000


def rejections(w, reason: str) -> float:
    return metric_value(w.metrics(), "salespulse_http_ingest_rejections_total", reason=reason) or 0


def connect(port: int, timeout: float = 10) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s: socket.socket) -> bytes:
    """Everything the worker sends until it closes the connection."""
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return out
        if not chunk:
            return out
        out += chunk


def head(port: int, path: str, headers: dict[str, str], length: int) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}",
             "Content-Type: application/json", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_one_line_error(r: httpx.Response, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert words in error and "\n" not in error and "Traceback" not in r.text, r.text


def assert_our_headers(headers, cache: str | None = "no-store") -> None:
    assert headers["server"] == "SalesPulse", headers
    assert headers["x-content-type-options"] == "nosniff"
    if cache:
        assert headers["cache-control"] == cache


def people_tokens(run_id: str, tmp_path) -> tuple[dict, str]:
    """A directory whose people have known tokens; returns (env, a director's token)."""
    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    director = None
    for person in directory["people"]:
        person["token_sha256"] = person_token_hash(f"tok-{person['id']}-{run_id}")
        if person["role"] == "director" and director is None:
            director = f"tok-{person['id']}-{run_id}"
    (tmp_path / "directory.yaml").write_text(yaml.safe_dump(directory))
    return {"SALESPULSE_PATHS__DIRECTORY": tmp_path / "directory.yaml"}, director


def test_bad_bodies_get_one_line_4xx_on_every_route_and_answers_carry_our_headers(make_worker, db_url, run_id,
                                                                                     tmp_path):
    env, director = people_tokens(run_id, tmp_path)
    w = make_worker(**token_env(run_id), **env, SALESPULSE_HTTP__BODY_TIMEOUT_S=2)
    w.wait_ready()
    tok = tokens(run_id)
    url = f"{w.base_url}/events"
    order = as_json(make_order(channel=Channel.web))

    # gzip works; a body that says gzip and is not, an unknown coding, and 100,000 nested [ do not
    r = httpx.post(url, content=gzip.compress(json.dumps(order).encode()),
                   headers={**auth(tok["web"]), "Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert r.status_code == 202, r.text
    r = httpx.post(url, content=b"this is not gzip at all", headers={**auth(tok["web"]), "Content-Encoding": "gzip"})
    assert_one_line_error(r, 400, "not valid gzip")
    r = httpx.post(url, content=json.dumps(order).encode(), headers={**auth(tok["web"]), "Content-Encoding": "snappy"})
    assert_one_line_error(r, 415, "not supported")
    assert "gzip" in r.headers["accept-encoding"]
    r = httpx.post(url, content=DEEP, headers=auth(tok["web"]))
    assert_one_line_error(r, 400, "nested deeper than 32")

    # the ack route reads its body through the same helper: 413 over its 64 KiB, 400 for deep JSON, never 500
    incident = make_incident(channel=Channel.store, incident_key=f"hyg-{run_id}")
    assert httpx.post(url, json=as_json(incident), headers=auth(tok["store"])).status_code == 202
    wait_until(lambda: query(db_url, "SELECT 1 FROM incidents WHERE incident_key = :k", k=incident.incident_key),
               timeout=30, message="incident stored")
    ack = f"{w.base_url}/incidents/{incident.incident_key}/ack"
    r = httpx.post(ack, content=DEEP, headers={**auth(director), "Content-Type": "application/json"})
    assert_one_line_error(r, 413, "larger than")
    r = httpx.post(ack, content=b"[" * 5_000, headers={**auth(director), "Content-Type": "application/json"})
    assert_one_line_error(r, 400, "nested deeper than 32")
    r = httpx.post(ack, content=b"not gzip", headers={**auth(director), "Content-Encoding": "gzip"})
    assert_one_line_error(r, 400, "")
    r = httpx.post(ack, content=b'{"comment": "x"}', headers={**auth(director), "Content-Encoding": "snappy"})
    assert_one_line_error(r, 415, "not supported")

    # a client that leaves mid-body: its own reason, no traceback
    for _ in range(3):
        s = connect(w.web_port)
        s.sendall(head(w.web_port, "/events", auth(tok["web"]), 1000) + b'[{"event_t')
        s.close()
    wait_until(lambda: rejections(w, "client_disconnected") == 3, timeout=10, message="3 client_disconnected")

    # a body that comes too slowly: 408 once body_timeout_s (2 s) has passed, and the connection closes
    s = connect(w.web_port)
    start = time.monotonic()
    s.sendall(head(w.web_port, "/events", auth(tok["web"]), 100) + b"[")
    answer = read_all(s)
    took = time.monotonic() - start
    s.close()
    assert answer.startswith(b"HTTP/1.1 408") and b"within 2 s" in answer, answer
    assert 1.5 < took < 6, took
    assert rejections(w, "body_timeout") == 1

    text = w.metrics()
    # the 415 is the guard's, before any route: POST /events never sees that request
    for reason, n in (("bad_encoding", 1), ("invalid_json", 1)):
        assert metric_value(text, "salespulse_http_ingest_rejections_total", reason=reason) == n, reason
    assert (metric_value(text, "salespulse_http_ingest_rejections_total", reason="internal_error") or 0) == 0
    log = w.log_tail(1_000_000)
    assert "Traceback" not in log and "RecursionError" not in log, log[-3000:]

    # headers: API answers, /metrics, a 404, a request aiohttp refuses before routing, the board's files
    for r in (httpx.post(url, json=order, headers=auth(tok["web"])), httpx.get(f"{w.base_url}/health/live"),
              httpx.get(f"{w.base_url}/metrics"), httpx.get(f"{w.base_url}/nowhere")):
        assert_our_headers(r.headers)
        assert "aiohttp" not in r.headers.get("server", "") and "Python" not in r.headers.get("server", "")
    s = connect(w.web_port)
    s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Bad\x01: y\r\n\r\n")
    raw = read_all(s).decode("latin-1")
    s.close()
    status, _, rest = raw.partition("\r\n")
    assert status.split()[1] == "400", raw
    assert "Server: SalesPulse" in rest and "nosniff" in rest and "aiohttp" not in raw
    page = httpx.get(f"{w.base_url}/board/static/board.js")
    if page.status_code == 200:
        assert_our_headers(page.headers, cache=None)


def test_slow_clients_are_cut_off_and_connections_are_capped(make_worker, run_id):
    w = make_worker(**token_env(run_id), SALESPULSE_HTTP__HEADER_TIMEOUT_S=2, SALESPULSE_HTTP__MAX_CONNECTIONS=8)
    w.wait_ready()

    def slowloris(_) -> float:
        """One header byte a second; seconds until the worker closed the connection."""
        s = connect(w.web_port)
        start = time.monotonic()
        s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(30):
                s.sendall(b"X")
                s.settimeout(1.0)
                try:
                    if s.recv(1024) == b"":
                        break
                except socket.timeout:
                    continue
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            s.close()
        return time.monotonic() - start

    with ThreadPoolExecutor(5) as pool:
        durations = list(pool.map(slowloris, range(5)))
    assert all(1.5 < d < 5 for d in durations), durations

    # the cap: 8 open connections, the ninth gets 503 at once and is closed
    held = [connect(w.web_port) for _ in range(8)]
    time.sleep(0.3)
    extra = connect(w.web_port, timeout=3)
    answer = read_all(extra)
    extra.close()
    assert answer.startswith(b"HTTP/1.1 503") and b"Server: SalesPulse" in answer, answer
    for s in held:
        s.close()
    wait_until(lambda: httpx.get(f"{w.base_url}/health/live", timeout=2).status_code == 200, timeout=10,
               message="the worker answers again once the held connections are gone")
