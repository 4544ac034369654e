"""Wire models (pydantic) + HTTP limits -> the OpenAPI 3.1 description of the worker's HTTP surface."""

from __future__ import annotations

from typing import Any

from pipeline.settings import IngestHttpSettings
from schemas.events import EVENT_MODELS, INPUT_ADAPTER

REF = "#/components/schemas/{model}"
MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,4})?$"
MONEY_MAX = 999_999_999_999


def _error(description: str, *, per_event: bool = False, headers: dict | None = None) -> dict:
    schema = {"$ref": "#/components/schemas/EventErrors" if per_event else "#/components/schemas/Error"}
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before sending again", "required": True,
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
_ANY_JSON = {"application/json": {"schema": {"type": "object"}}}


def _wire_rules(schema: dict) -> None:
    """What pydantic's JSON schema leaves out of a wire model: the union tag is required on the wire
    (its default only serves Python callers), and a money string is a plain decimal of at most 12 digits
    before the point and 4 after it (schemas.events.Money)."""
    if "event_type" in schema.get("properties", {}):
        schema["required"] = sorted({*schema.get("required", ()), "event_type"})
    for prop in schema.get("properties", {}).values():
        branches = prop.get("anyOf", ())
        if {b.get("type") for b in branches} == {"number", "string"}:
            for b in branches:
                if b["type"] == "string":
                    b["pattern"] = MONEY_PATTERN
                else:
                    b["maximum"] = MONEY_MAX


def _case_action(action: str, moves: str) -> dict:
    return {"post": {
        "summary": f"{action.capitalize()} a case ({moves})", "operationId": f"{action}Case",
        "parameters": [{"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the case after the action", "content": _ANY_JSON},
                      "403": _error("outside the person's scope, or a service token"),
                      "404": _error("no such case"),
                      "409": _error("the action does not fit the case's state (the answer names it)")}}}


def build_openapi(cfg: IngestHttpSettings, version: str = "0.1.0") -> dict:
    """The document served at GET /openapi.json; event schemas come from schemas.events, not a copy."""
    event = INPUT_ADAPTER.json_schema(ref_template=REF, mode="validation")
    components: dict[str, Any] = dict(event.pop("$defs"))
    components["InputEvent"] = event
    for model in EVENT_MODELS.values():
        _wire_rules(components[model.__name__])
    _wire_rules(components["LineItem"])
    batch = {"type": "array", "items": {"$ref": REF.format(model="InputEvent")},
             "minItems": 1, "maxItems": cfg.max_batch_events}
    components["EventBatch"] = {"type": "object", "properties": {"events": batch}, "required": ["events"],
                                "additionalProperties": False}
    components["Error"] = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
    components["EventError"] = {
        "type": "object", "required": ["index", "field", "error"],
        "properties": {"index": {"type": "integer", "minimum": 0, "description": "position in the batch (0 for one event)"},
                       "field": {"type": "string", "description": "dotted path of the field at fault, e.g. items.0.unit_price"},
                       "error": {"type": "string"}},
    }
    components["EventErrors"] = {
        "type": "object", "required": ["error", "errors"],
        "properties": {"error": {"type": "string"},
                       "errors": {"type": "array", "items": {"$ref": REF.format(model="EventError")}},
                       "more_errors": {"type": "integer", "minimum": 1, "description": "errors left out of the list"}},
    }
    components["Accepted"] = {
        "type": "object", "required": ["accepted", "event_ids", "topics"],
        "properties": {"accepted": {"type": "integer", "minimum": 1},
                       "event_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
                       "topics": {"type": "object", "additionalProperties": {"type": "integer"},
                                  "description": "events produced per topic"}},
    }
    events_post = {
        "summary": "Submit one event or a batch (all or nothing)",
        "description": (
            "The body is one event, an array of events, or {\"events\": [...]}, validated exactly as events read "
            "from Kafka are. Either every event is accepted or none is: fix the errors listed and send the whole "
            "batch again. A token belongs to one channel and submits only events of that channel. Send your own "
            "event_id so that a resend after a timeout is recognised as a duplicate."),
        "operationId": "postEvents",
        "security": [{"channelToken": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"anyOf": [
            {"$ref": REF.format(model="InputEvent")}, batch, {"$ref": REF.format(model="EventBatch")}]}}}},
        "responses": {
            "202": {"description": "every event produced to its topic and acknowledged by the broker",
                    "content": {"application/json": {"schema": {"$ref": REF.format(model="Accepted")}}}},
            "400": _error("malformed JSON, an empty batch, or a body that is not an event, an array or {events}"),
            "401": _error("missing or unknown token",
                          headers={"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}),
            "403": _error("an event names another channel than the token's", per_event=True),
            "413": _error(f"body over {cfg.max_body_bytes} bytes or more than {cfg.max_batch_events} events"),
            "422": _error("schema violations, one entry per field at fault", per_event=True),
            "429": _error(f"over {cfg.rate_per_s:g} events/s for this token", headers=_RETRY_AFTER),
            "503": _error("the broker did not acknowledge in time; resend", headers=_RETRY_AFTER),
        },
    }
    health = {"type": "object", "additionalProperties": True}
    paths = {
        "/events": {"post": events_post},
        "/openapi.json": {"get": {"summary": "This document", "operationId": "getOpenApi",
                                  "responses": {"200": {"description": "OpenAPI 3.1", "content": _ANY_JSON}}}},
        "/health/live": {"get": {"summary": "The process answers", "operationId": "getLive",
                                 "responses": {"200": {"description": "live", "content": {"application/json": {"schema": health}}}}}},
        "/health/ready": {"get": {"summary": "Broker, database, partitions, recovery", "operationId": "getReady",
                                  "responses": {"200": {"description": "ready", "content": {"application/json": {"schema": health}}},
                                                "503": {"description": "not ready; the failing checks are false",
                                                        "content": {"application/json": {"schema": health}}}}}},
        "/metrics": {"get": {"summary": "Prometheus exposition", "operationId": "getMetrics",
                             "responses": {"200": {"description": "text format 0.0.4",
                                                   "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/incidents": {"get": {
            "summary": "The incident board", "operationId": "listIncidents",
            "parameters": [
                {"name": "state", "in": "query", "schema": {"type": "string", "default": "open"},
                 "description": "open, all, or one status"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}}],
            "responses": {"200": {"description": "incidents, newest first", "content": {"application/json": {"schema": {
                "type": "object", "required": ["incidents"],
                "properties": {"incidents": {"type": "array", "items": {"type": "object"}}}}}}},
                "400": _error("unknown state or a limit that is not a number")}}},
        "/cases": {"get": {
            "summary": "After-sales cases in the reader's scope", "operationId": "listCases",
            "parameters": [
                {"name": "state", "in": "query", "schema": {"type": "string", "default": "open"},
                 "description": "open (not resolved), all, responded or resolved"},
                {"name": "mine", "in": "query", "schema": {"type": "string", "enum": ["0", "1"], "default": "0"},
                 "description": "1: only cases the reader owns, or their department's queue holds"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}}],
            "responses": {"200": {"description": "cases, soonest resolution due first", "content": {"application/json": {
                "schema": {"type": "object", "required": ["cases"],
                           "properties": {"cases": {"type": "array", "items": {"type": "object"}}}}}}},
                "400": _error("unknown state, mine or limit")}}},
        "/cases/{case_id}/respond": _case_action("respond", "open -> responded"),
        "/cases/{case_id}/resolve": _case_action("resolve", "open or responded -> resolved"),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "SalesPulse worker", "version": version,
                 "description": "HTTP ingestion for channels that cannot write to Kafka, health and metrics."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"channelToken": {"type": "http", "scheme": "bearer",
                                                 "description": "per-channel token; its SHA-256 is configured in "
                                                                "SALESPULSE_INGEST_HTTP__TOKENS_SHA256"}},
        },
    }
