"""单位总览 over HTTP: the overview's JSON, what a batch request may hold, its lines, and the
switch answer (at once for a unit checked in this start, else the login wizard)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from client.services import Services
from tests.api.test_wage_base_api import Api, error_of
from tests.conftest import NEW_PASSWORD, log_in


@pytest.fixture
def api(services: Services, taxside_factory: Any, browser_client: httpx.Client) -> Api:
    live = taxside_factory(units=3, employees=20)
    for n in range(3):
        log_in(services, live, n)
    services.session.popups_shown = True
    api = Api(browser_client)
    api.live = live  # type: ignore[attr-defined]
    return api


def test_overview_json_and_the_menu(api: Api, services: Services) -> None:
    answer = api.get("/api/agency/units", sort="employees", order="desc", size=2)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 3 and len(body["rows"]) == 2 and body["totals"]["units"] == 3
    assert body["rows"][0]["employees"] >= body["rows"][1]["employees"]
    row = body["rows"][0]
    assert isinstance(row["arrears_amount"], str) and row["saved"] is False
    assert sum(r["current"] for r in api.get("/api/agency/units").json()["rows"]) == 1
    assert error_of(api.get("/api/agency/units", sort="password"), 400)["field"] == "sort"
    assert 'data-nav="agency"' in api.get("/agency").text


@pytest.mark.parametrize("body, field", [
    ({"action": "feedback"}, "units"),
    ({"action": "feedback", "units": []}, "units"),
    ({"action": "drop", "units": [{"unit_id": "U000001"}]}, "action"),
    ({"action": "feedback", "units": ["U000001"]}, "units"),
    ({"action": "feedback", "units": [{"unit_id": "U000001", "password": 123456}]}, "password"),
])
def test_a_batch_request_is_checked(api: Api, body: dict[str, Any], field: str) -> None:
    assert error_of(api.post("/api/agency/batch", body), 400)["field"] == field


def test_batch_lines_over_http(api: Api, services: Services) -> None:
    units = [api.live.unit(n).unit_id for n in (0, 1)]  # type: ignore[attr-defined]
    answer = api.post("/api/agency/batch", {"action": "arrears", "units": [
        {"unit_id": units[0], "password": NEW_PASSWORD}, {"unit_id": units[1]},
    ]})
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["batch"]["job"]["id"]
    while services.jobs.get(job_id).active:
        time.sleep(0.02)
    batch = api.get(f"/api/agency/batch/{job_id}").json()["batch"]
    assert [line["state"] for line in batch["lines"]] == ["done", "failed"]
    assert batch["lines"][1]["message"] == "需要输入申报密码"
    assert api.get("/api/agency/batch").json()["batch"]["job"]["id"] == job_id
    assert error_of(api.get("/api/agency/batch/nope"), 404)["code"] == "job_not_found"
    # No password in any answer.
    assert NEW_PASSWORD not in api.get(f"/api/agency/batch/{job_id}").text


def test_switch(api: Api, services: Services) -> None:
    target = api.live.unit(0).unit_id  # type: ignore[attr-defined]
    answer = api.post("/api/agency/switch", {"unit_id": target}).json()
    assert answer["switched"] is True and services.session.view().unit.unit_id == target
    services.session.checked.clear()
    other = api.live.unit(1).unit_id  # type: ignore[attr-defined]
    answer = api.post("/api/agency/switch", {"unit_id": other}).json()
    assert answer["switched"] is False and answer["entered"] is True
    assert answer["next"].startswith("/login?unit=" + other)
    assert services.session.view().unit.unit_id == target
    assert error_of(api.post("/api/agency/switch", {}), 400)["field"] == "unit_id"
