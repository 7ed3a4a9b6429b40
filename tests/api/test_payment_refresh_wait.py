"""刷新 answers with the ended job when the refresh ends within its wait (the page then polls
nothing), and with the running job when the tax side is slow (the page polls as before);
a failed refresh that ends within the wait answers failed, with the reason."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from client.api import payment as payment_api
from client.services import Services
from tests.api.test_fee_declaration_api import job_result
from tests.api.test_wage_base_api import Api
from tests.conftest import log_in
from tests.sync.test_payment import declared_elsewhere


@pytest.fixture
def live(services: Services, taxside_factory: Any) -> Any:
    taxside = taxside_factory(units=1, employees=20, seed=11)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, taxside, index=0)
    services.session.popups_shown = True
    declared_elsewhere(taxside, unit.unit_id)
    taxside.unit_id = unit.unit_id
    return taxside


@pytest.fixture
def api(live: Any, browser_client: httpx.Client) -> Api:
    return Api(browser_client)


def test_a_refresh_within_the_wait_answers_ended_with_its_result(
    api: Api, live: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wait no loaded machine exceeds: the answer must carry the end, not a running job.
    monkeypatch.setattr(payment_api, "REFRESH_WAIT_SECONDS", 60.0)
    answer = api.post("/api/payment/arrears/refresh")
    assert answer.status_code == 202, answer.text
    job = answer.json()["job"]
    assert job["state"] == "succeeded", job
    listed = api.get("/api/payment/arrears").json()
    assert job["result"]["count"] == listed["count"] > 0 and "欠费信息" in job["result"]["message"]
    # The job is the runner's own: asked again, it says the same.
    again = api.get(f"/api/jobs/{job['id']}").json()["job"]
    assert again["state"] == "succeeded" and again["result"] == job["result"]


def test_a_slow_tax_side_answers_the_running_job_then_it_ends(
    api: Api, live: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payment_api, "REFRESH_WAIT_SECONDS", 0.05)
    live.fault(f"/v1/units/{live.unit_id}/arrears", "latency", latency_ms=1500, count=1)
    answer = api.post("/api/payment/arrears/refresh")
    job = answer.json()["job"]
    assert job["state"] == "running", job  # the tax side holds the answer 1.5 s, the wait is 0.05 s
    result = job_result(api, answer)  # polled to its end, as the page does
    assert result["count"] == api.get("/api/payment/arrears").json()["count"] > 0


def test_a_refresh_that_fails_within_the_wait_answers_failed(
    api: Api, live: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payment_api, "REFRESH_WAIT_SECONDS", 60.0)
    live.fault(f"/v1/units/{live.unit_id}/arrears", "error", status=503, count=100)
    job = api.post("/api/payment/arrears/refresh").json()["job"]
    assert job["state"] == "failed", job
    assert job["error"]["message"]
    live.clear_faults()


def test_asked_for_the_list_an_ended_refresh_carries_it(
    api: Api, live: Any, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payment_api, "REFRESH_WAIT_SECONDS", 60.0)
    plain = api.post("/api/payment/arrears/refresh").json()
    assert "arrears" not in plain  # only when asked
    answer = api.post("/api/payment/arrears/refresh", {"list": {"period": ""}}).json()
    assert answer["job"]["state"] == "succeeded"
    assert answer["arrears"] == api.get("/api/payment/arrears").json()  # what is stored now
    assert answer["arrears"]["count"] == answer["job"]["result"]["count"] > 0
    period = answer["arrears"]["items"][0]["period_from"]
    some = api.post("/api/payment/arrears/refresh", {"list": {"period": period}}).json()["arrears"]
    assert some == api.get("/api/payment/arrears", period=period).json()
    assert 0 < some["count"] <= answer["arrears"]["count"]
    assert all(i["period_from"] <= period <= i["period_to"] for i in some["items"])


def test_a_bad_period_is_refused_before_anything_is_asked(api: Api, live: Any, services: Services) -> None:
    before = len(services.jobs.find(kind=payment_api.REFRESH_JOB))
    answer = api.post("/api/payment/arrears/refresh", {"list": {"period": "2025-13"}})
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "period"
    assert len(services.jobs.find(kind=payment_api.REFRESH_JOB)) == before  # no job started


def test_a_slow_refresh_carries_no_list(api: Api, live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payment_api, "REFRESH_WAIT_SECONDS", 0.05)
    live.fault(f"/v1/units/{live.unit_id}/arrears", "latency", latency_ms=1500, count=1)
    answer = api.post("/api/payment/arrears/refresh", {"list": {"period": ""}})
    assert answer.json()["job"]["state"] == "running" and "arrears" not in answer.json()
    job_result(api, answer)
