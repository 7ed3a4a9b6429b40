"""The login session against the reference tax side over HTTP."""

from __future__ import annotations

import pytest

from client.core import audit
from client.core.paging import PageRequest
from client.errors import AuthError, NetworkError, ValidationError
from client.services import Services
from client.sync.taxclient import PasswordError
from tests.conftest import NEW_PASSWORD, log_in


@pytest.fixture
def services(engine_services: Services) -> Services:
    """On SQLite and on PostgreSQL (tests/sync/conftest.py)."""
    return engine_services


@pytest.fixture
def live(services, taxside_factory):
    ts = taxside_factory(units=3, employees=20, lock_minutes=30)
    services.settings.update({"taxside_url": ts.url})
    return ts


def test_taxpayer_id_is_checked_before_asking(services, live) -> None:
    with pytest.raises(ValidationError) as info:
        services.session.lookup("91110112UJ65RGFLK1")
    assert info.value.field == "taxpayer_id" and "校验位" in info.value.message
    assert len(services.session.lookup(live.unit(0).taxpayer_id)) == 2


def test_wrong_passwords_count_down_then_lock(services, live) -> None:
    unit = live.unit(2)
    session = services.session
    session.lookup(unit.taxpayer_id)
    for left in (4, 3, 2, 1):
        with pytest.raises(PasswordError) as info:
            session.login(unit.unit_id, "000000")
        assert info.value.attempts_left == left and f"还可尝试{left}次" in info.value.message
    with pytest.raises(PasswordError) as info:
        session.login(unit.unit_id, "000000")
    assert info.value.code == "password_locked" and "锁定" in info.value.message
    # 操作日志 shows every refusal and the lock-out (an administrator looks for them there).
    logged = [(e["action"], e["detail"]) for e in audit.search(PageRequest(size=50)).rows]
    assert [a for a, _d in logged].count("申报密码错误") == 4
    assert any(a == "申报密码锁定" and "锁定" in d for a, d in logged)
    assert any("剩余 1 次尝试机会" in d for _a, d in logged)


def test_nothing_before_the_forced_change(services, live) -> None:
    unit = live.unit(2)
    session = services.session
    session.lookup(unit.taxpayer_id)
    assert session.login(unit.unit_id, unit.initial_password).state == "must_change"
    with pytest.raises(AuthError):
        session.confirm()
    with pytest.raises(ValidationError):
        session.change_initial_password(unit.initial_password, unit.initial_password)
    assert session.change_initial_password(NEW_PASSWORD, NEW_PASSWORD).state == "confirm"


def test_offline_is_offered_only_to_a_unit_known_here(services, live) -> None:
    log_in(services, live, 2)
    services.session.logout()
    live.running.stop()
    with pytest.raises(NetworkError) as info:
        services.session.login(live.unit(2).unit_id, NEW_PASSWORD)
    assert info.value.code == "offline_available"
    with pytest.raises(AuthError):
        services.session.enter_offline(live.unit(2).unit_id, "Wrong2025")
    view = services.session.enter_offline(live.unit(2).unit_id, NEW_PASSWORD)
    assert view.entered and view.offline
    with pytest.raises(NetworkError):
        services.session.client()
