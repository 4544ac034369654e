"""Coaching through a real worker: the sweep's driver (with the observe port giving fixed metrics) opens an item
for a rep lagging their team; the worker's API shows it to their lead (not to another team's), and the lead's
assign and the rep's done go through it with the metric before and after."""

from __future__ import annotations

import httpx
import pytest

from tests.support.coaching import observe_days, tokened_directory
from tests.support.services import metric_value

pytestmark = pytest.mark.integration


def test_lagging_rep_item_is_assigned_and_done_through_the_api(make_worker, db_url, run_id, tmp_path):
    directory, path, tokens = tokened_directory(tmp_path, run_id)
    w = make_worker(SALESPULSE_PATHS__DIRECTORY=path)
    w.wait_ready()   # the worker has migrated the database
    ack = {"rep-3": 240.0}

    def observe(at):   # the port: rep-3 acknowledges far slower than their team peer rep-4
        return {"rep-3": {"ack_minutes": ack["rep-3"]}, "rep-4": {"ack_minutes": 20.0}}

    observe_days(db_url, directory, observe, range(3))   # config/training.yaml: ack_minutes, 30 minutes, 3 days

    def call(method, path, who, **kw):
        return httpx.request(method, f"{w.base_url}{path}", headers={"Authorization": f"Bearer {tokens[who]}"},
                             timeout=10, **kw)

    [item] = call("GET", "/coaching", "lead-south").json()["items"]
    assert (item["rep"], item["metric"], item["state"], item["topic"]) == ("rep-3", "ack_minutes", "open",
                                                                          "fast-acknowledgement")
    assert (item["opened_value"], item["opened_median"]) == (240.0, 20.0)
    assert call("GET", "/coaching", "lead-north").json()["items"] == []
    assert call("GET", "/coaching", "rep-4").json()["items"] == []
    assert call("POST", f"/coaching/{item['id']}/assign", "lead-north").status_code == 403
    assert call("POST", f"/coaching/{item['id']}/assign", "rep-3").status_code == 403
    assert call("POST", "/coaching/nope/assign", "lead-south").status_code == 404
    assert call("POST", f"/coaching/{item['id']}/assign", "lead-south", json={"topic": "nope"}).status_code == 400
    r = call("POST", f"/coaching/{item['id']}/assign", "lead-south", json={"topic": "customer-care"})
    assert r.status_code == 200, r.text
    assert r.json()["assignment"]["topic"] == "customer-care" and r.json()["assignment"]["before_value"] == 240.0
    assert call("POST", f"/coaching/{item['id']}/assign", "lead-south").status_code == 409

    ack["rep-3"] = 25.0
    observe_days(db_url, directory, observe, [3])
    r = call("POST", f"/coaching/{item['id']}/done", "rep-3")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "done" and done["assignment"]["after_value"] == 25.0 and done["current_value"] == 25.0
    [listed] = call("GET", "/coaching?state=done", "rep-3").json()["items"]
    assert listed["assignment"]["done_by"] == "rep-3"
    assert call("GET", "/coaching?state=bogus", "rep-3").status_code == 400
    for event in ("assigned", "done"):
        assert metric_value(w.metrics(), "salespulse_coaching_items_total", event=event, metric="ack_minutes") == 1
