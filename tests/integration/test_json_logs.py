"""`portico serve` with LOG_FORMAT=json, as an operator runs it: every line it writes is one
JSON object, uvicorn's own lines included, and each request is one access record (uvicorn's
access log stays off).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from adapters.sqlalchemy.migrate import upgrade
from tests.contract.databases import sqlite_url
from tests.integration.portico_process import PorticoProcess, portico_environment

EVERY_RECORD = {"timestamp", "level", "logger", "message", "request_id"}


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Everything one process wrote, parsed line by line, from its start to its exit after
    SIGTERM; it served a ready probe, a 404 with a request id of the test's, and a HEAD."""
    directory = tmp_path_factory.mktemp("json-logs")
    url = sqlite_url(directory / "logs.db")
    upgrade(url)
    env = portico_environment(url, LOG_FORMAT="json", LOG_LEVEL="INFO")
    server = PorticoProcess("json-logs", env, directory)
    server.start()
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url) as client:
            client.get("/nowhere?token=sekrit", headers={"X-Request-ID": "json-logs-1"})
            client.head("/health/live", headers={"X-Request-ID": "json-logs-2"})
    finally:
        server.stop()
    text = server.log_path.read_text()
    try:
        parsed = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError:
        pytest.fail(f"a line is not JSON:\n{text}", pytrace=False)
    return parsed


def test_every_line_is_a_json_object_with_the_fields_of_every_record(lines):
    assert lines
    for record in lines:
        assert set(record) >= EVERY_RECORD, record


def test_uvicorns_own_lines_are_json_records_too(lines):
    uvicorn = [r for r in lines if r["logger"].startswith("uvicorn")]
    messages = " | ".join(r["message"] for r in uvicorn)

    assert "Application startup complete." in messages
    assert "Shutting down" in messages
    assert not [r for r in uvicorn if "color_message" in r]


def test_each_request_is_one_access_record_and_uvicorns_access_log_is_off(lines):
    access = {r["request_id"]: r for r in lines if r["logger"] == "portico.access"}

    assert not [r for r in lines if r["logger"] == "uvicorn.access"]
    missed, head = access["json-logs-1"], access["json-logs-2"]
    assert (missed["method"], missed["route"], missed["status"]) == ("GET", "unmatched", 404)
    assert (head["method"], head["route"], head["status"]) == ("HEAD", "/health/live", 200)
    assert missed["client"] == "127.0.0.1" and missed["duration_ms"] >= 0
    assert "sekrit" not in json.dumps(lines)
    probes = [r for r in access.values() if r["route"] == "/health/ready"]
    assert 200 in {r["status"] for r in probes}
