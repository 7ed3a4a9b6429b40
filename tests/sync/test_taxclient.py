"""The tax-side client against the live reference tax side, under every fault."""

from __future__ import annotations

import logging
import sqlite3
from decimal import Decimal

import pytest

from client.errors import AuthError, ConflictError, NetworkError, TaxSideRejection
from client.sync.taxclient import (
    Employee,
    PasswordError,
    RetryPolicy,
    TaxClient,
    Tombstone,
    new_idempotency_key,
)
from tests.taxside_fixtures import LiveTaxSide

NEW_PASSWORD = "Sfee2025pw"


def make_client(ts: LiveTaxSide, **kw: object) -> TaxClient:
    kw.setdefault("retry", RetryPolicy(attempts=3, backoff_s=0.01))
    kw.setdefault("timeout", 2.0)
    return TaxClient(ts.url, **kw)  # type: ignore[arg-type]


def logged_in(ts: LiveTaxSide, index: int = 0, **kw: object) -> TaxClient:
    unit = ts.unit(index)
    tc = make_client(ts, **kw)
    session = tc.login(unit.unit_id, unit.initial_password)
    assert session.must_change_password
    tc.change_password(unit.unit_id, unit.initial_password, NEW_PASSWORD)
    return tc


def test_registration_login_and_reads(taxside: LiveTaxSide) -> None:
    unit = taxside.unit(0)
    with make_client(taxside) as tc:
        units = tc.units_for_taxpayer(unit.taxpayer_id)
        assert [u.unit_id for u in units] == [unit.unit_id, taxside.unit(1).unit_id]
        session = tc.login(unit.unit_id, unit.initial_password)
        assert session.scope == "change_password"
        with pytest.raises(AuthError) as exc:
            tc.unit_registration(unit.unit_id)
        assert exc.value.code == "password_change_required"
        change = tc.change_password(unit.unit_id, unit.initial_password, NEW_PASSWORD)
        assert not change.replayed
        reg = tc.unit_registration(unit.unit_id)
        assert reg.taxpayer_id == unit.taxpayer_id and 1 <= len(reg.unit_numbers) <= 3
        assert reg.unit_numbers[0].number.isdigit() and isinstance(reg.unit_numbers[0].number, str)
        assert tc.client_release().version == "0.1.0"
        assert tc.notices(unit.region)
        for info in tc.rule_packs():
            assert tc.rule_pack(info.region).version == info.version


def test_errors_are_mapped(taxside: LiveTaxSide) -> None:
    unit = taxside.unit(2)
    with make_client(taxside) as tc:
        with pytest.raises(TaxSideRejection) as rej:
            tc.units_for_taxpayer("91110000000000000X")
        assert rej.value.code == "bad_taxpayer_id" and "校验位" in rej.value.message
        with pytest.raises(AuthError) as no_token:
            tc.unit_registration(unit.unit_id)
        assert no_token.value.code == "token_missing"
        for left in (4, 3, 2, 1):
            with pytest.raises(PasswordError) as wrong:
                tc.login(unit.unit_id, "000000x")
            assert wrong.value.attempts_left == left
            assert wrong.value.message == f"申报密码错误，还可尝试{left}次"
        with pytest.raises(PasswordError) as locked:
            tc.login(unit.unit_id, "000000x")
        assert locked.value.attempts_left == 0
        with pytest.raises(PasswordError) as locked:
            tc.login(unit.unit_id, unit.initial_password)
        assert locked.value.code == "password_locked" and "锁定" in locked.value.message
        assert locked.value.locked_until
        taxside.sim("POST", f"/units/{unit.unit_id}/unlock")
        tc.login(unit.unit_id, unit.initial_password)
        key = new_idempotency_key()
        tc.change_password(unit.unit_id, unit.initial_password, NEW_PASSWORD, idempotency_key=key)
        with pytest.raises(ConflictError):
            tc.change_password(unit.unit_id, NEW_PASSWORD, "Another2025", idempotency_key=key)
        with pytest.raises(TaxSideRejection) as weak:
            tc.change_password(unit.unit_id, NEW_PASSWORD, "short")
        assert weak.value.code == "weak_password"


def test_enrollment_full_and_incremental(taxside: LiveTaxSide) -> None:
    unit = max(taxside.units, key=lambda u: u.employees)
    index = taxside.units.index(unit)
    with logged_in(taxside, index) as tc:
        local: dict[str, Employee] = {}
        pages = list(tc.iter_enrollment(unit.unit_id, limit=50))
        assert pages[0].total == unit.employees and all(p.mode == "full" for p in pages)
        for page in pages:
            for e in page.items:
                assert isinstance(e, Employee)
                local[e.employee_id] = e
        assert len(local) == unit.employees
        sample = next(iter(local.values()))
        assert all(isinstance(v, Decimal) for v in sample.bases.values())
        cursor = pages[-1].next_cursor
        hired = taxside.sim("POST", f"/units/{unit.unit_id}/hires", {"count": 5})["employee_ids"]
        removed = taxside.sim("POST", f"/units/{unit.unit_id}/removals", {"count": 2})["employee_ids"]
        changed = taxside.sim("POST", f"/units/{unit.unit_id}/base-changes",
                              {"count": 3, "ratio": "1.10"})["employee_ids"]
        seen = 0
        for page in tc.iter_enrollment(unit.unit_id, cursor, limit=3):
            for e in page.items:
                seen += 1
                if isinstance(e, Tombstone):
                    local.pop(e.employee_id, None)
                else:
                    local[e.employee_id] = e
            cursor = page.next_cursor
        assert seen == len(set(hired) | set(removed) | set(changed))  # each change once
        assert not set(removed) & set(local)
        assert len(local) == unit.employees + 5 - 2
        assert set(changed) <= set(local) or set(changed) & set(removed)
        empty = tc.enrollment_page(unit.unit_id, cursor)
        assert empty.items == () and empty.next_cursor == cursor


@pytest.mark.parametrize(
    ("kind", "spec", "code", "message"),
    [
        ("error", {"status": 503}, "taxside_busy", "税务端繁忙，请稍后再试"),
        ("error", {"status": 500}, "taxside_busy", "税务端繁忙，请稍后再试"),
        ("timeout", {"hold_s": 3}, "network_timeout", "等待税务端响应超时"),
        ("malformed_json", {}, "bad_response", "服务器返回信息格式有误"),
        ("wrong_content_type", {}, "bad_response", "服务器返回信息格式有误"),
        ("drop_after_commit", {}, "network_dropped", "与税务端的连接意外中断，请稍后再试"),
    ],
)
def test_read_faults_give_clear_errors_and_retries_recover(
    taxside: LiveTaxSide, kind: str, spec: dict[str, object], code: str, message: str
) -> None:
    unit = taxside.unit(0)
    with logged_in(taxside, timeout=0.5) as tc:
        path = f"/v1/units/{unit.unit_id}"
        taxside.fault(path, kind, **spec)  # every request: retries run out
        with pytest.raises(NetworkError) as exc:
            tc.unit_registration(unit.unit_id)
        assert exc.value.code == code and exc.value.message == message
        taxside.clear_faults()
        taxside.fault(path, kind, count=2, **spec)  # two failures, the third try succeeds
        assert tc.unit_registration(unit.unit_id).unit_id == unit.unit_id


def test_latency_under_timeout_is_fine(taxside: LiveTaxSide) -> None:
    taxside.fault("/v1/client", "latency", latency_ms=200)
    with make_client(taxside, timeout=2.0) as tc:
        assert tc.client_release().version


def test_unreachable_tax_side(taxside: LiveTaxSide) -> None:
    url = taxside.url
    taxside.running.stop()
    calls: list[float] = []
    with TaxClient(url, retry=RetryPolicy(attempts=2, backoff_s=0.01), sleep=calls.append) as tc:
        with pytest.raises(NetworkError) as exc:
            tc.client_release()
        assert exc.value.message == "网络不通，无法连接税务端"
        assert calls == [0.01]
        with pytest.raises(NetworkError):  # a login never left: repeating it is safe
            tc.login("U000001", "123456")
        assert len(calls) == 2


def test_socks_proxy_failure_is_a_network_error(taxside: LiveTaxSide) -> None:
    proxy = "socks5://user:proxypass@127.0.0.1:9"  # nothing listens on port 9
    with (
        TaxClient(taxside.url, proxy=proxy, retry=RetryPolicy(attempts=1)) as tc,
        pytest.raises(NetworkError) as exc,
    ):
        tc.client_release()
    assert "proxypass" not in str(exc.value) and exc.value.__cause__ is None
    assert exc.value.message == "无法通过代理服务器连接税务端，请检查代理设置"


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_dead_proxy_is_named_as_the_proxy(taxside: LiveTaxSide, scheme: str) -> None:
    """A proxy that does not answer is not "网络不通": the operator must look at the proxy."""
    with (
        TaxClient(taxside.url, proxy=f"{scheme}://127.0.0.1:9", retry=RetryPolicy(attempts=1)) as tc,
        pytest.raises(NetworkError) as exc,
    ):
        tc.client_release()
    assert (exc.value.code, exc.value.message) == ("network_proxy", "无法通过代理服务器连接税务端，请检查代理设置")


def test_drop_after_commit_then_retry_with_same_key_writes_once(taxside: LiveTaxSide) -> None:
    unit = taxside.unit(0)
    path = f"/v1/units/{unit.unit_id}/password"
    with make_client(taxside, retry=RetryPolicy(attempts=1)) as tc:
        tc.login(unit.unit_id, unit.initial_password)
        taxside.fault(path, "drop_after_commit", count=1)
        key = new_idempotency_key()
        with pytest.raises(NetworkError) as exc:
            tc.change_password(unit.unit_id, unit.initial_password, NEW_PASSWORD, idempotency_key=key)
        assert exc.value.code == "network_dropped"
        outcome = tc.idempotency_outcome(key)  # "unknown" is resolved by asking
        assert outcome is not None and outcome.status == 200
        assert tc.idempotency_outcome(new_idempotency_key()) is None
        again = tc.change_password(unit.unit_id, unit.initial_password, NEW_PASSWORD, idempotency_key=key)
        assert again.replayed
    con = sqlite3.connect(taxside.db_path)
    assert con.execute("SELECT COUNT(*) FROM change_log WHERE op = 'password_changed'").fetchone()[0] == 1
    assert con.execute("SELECT COUNT(*) FROM idempotency WHERE key = ?", (key,)).fetchone()[0] == 1


@pytest.mark.parametrize("kind", ["drop_after_commit", "malformed_json", "error", "timeout"])
def test_write_retried_automatically_lands_once(taxside: LiveTaxSide, kind: str) -> None:
    unit = taxside.unit(0)
    path = f"/v1/units/{unit.unit_id}/password"
    with make_client(taxside, timeout=0.5) as tc:
        tc.login(unit.unit_id, unit.initial_password)
        taxside.fault(path, kind, count=1, hold_s=2)
        change = tc.change_password(unit.unit_id, unit.initial_password, NEW_PASSWORD)
        assert change.replayed == (kind in ("drop_after_commit", "malformed_json"))
    con = sqlite3.connect(taxside.db_path)
    assert con.execute("SELECT COUNT(*) FROM change_log WHERE op = 'password_changed'").fetchone()[0] == 1


def test_login_is_not_retried_after_it_was_sent(taxside: LiveTaxSide) -> None:
    unit = taxside.unit(0)
    taxside.fault(f"/v1/units/{unit.unit_id}/session", "error", status=503, count=1)
    with make_client(taxside) as tc:
        with pytest.raises(NetworkError):
            tc.login(unit.unit_id, unit.initial_password)
        assert tc.login(unit.unit_id, unit.initial_password).must_change_password


def test_secrets_never_logged(taxside: LiveTaxSide, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    unit = taxside.unit(0)
    errors: list[Exception] = []
    with make_client(taxside, proxy=None) as tc:
        with pytest.raises(PasswordError) as exc:
            tc.login(unit.unit_id, "Wr0ngSecret")
        errors.append(exc.value)
        tc.login(unit.unit_id, unit.initial_password)
        token = tc._token
        taxside.fault(f"/v1/units/{unit.unit_id}/password", "drop_after_commit", count=5)
        with pytest.raises(NetworkError) as exc2:
            tc.change_password(unit.unit_id, unit.initial_password, NEW_PASSWORD)
        errors.append(exc2.value)
        taxside.clear_faults()
        assert tc.idempotency_outcome(exc2.value.__class__.__name__) is None
        text = repr(tc)
    assert token
    secrets = [unit.initial_password, "Wr0ngSecret", NEW_PASSWORD, token]
    blobs = [r.getMessage() for r in caplog.records] + [str(e) for e in errors] + [repr(e) for e in errors]
    blobs += [text] + [str(r.args) for r in caplog.records]
    assert caplog.records
    for secret in secrets:
        for blob in blobs:
            assert secret not in blob


def test_client_from_settings_uses_the_operators_configuration(tmp_path, taxside) -> None:
    from client.core import network
    from client.errors import NetworkError, ValidationError
    from client.settings import Settings
    from client.sync.taxclient import from_settings

    settings = Settings(tmp_path)
    with from_settings(settings) as client:  # the address the release fixes (client/release.json)
        assert str(client._http.base_url).rstrip("/") == network.read_release().taxside_url
    with pytest.raises(ValidationError) as info:
        settings.update({"taxside_url": "ftp://x"})  # refused when saved, not at the next login
    assert info.value.field == "taxside_url"
    with pytest.raises(ValidationError, match="代理类型"):
        settings.update({"taxside_url": taxside.url, "proxy_mode": "gopher"})
    settings.update({"taxside_url": taxside.url, "proxy_mode": "none"})
    with from_settings(settings) as client:
        assert [p.region for p in client.rule_packs()] == ["110000", "140000", "310000"]
    # A proxy that is not there is a network error in Chinese, never a hang or a crash.
    settings.update({"proxy_mode": "socks5", "proxy_host": "127.0.0.1", "proxy_port": 9,
                     "http_timeout_seconds": 5})
    with from_settings(settings) as client, pytest.raises(NetworkError, match="代理服务器"):
        client.rule_packs()
