from __future__ import annotations

import pytest

from client.core import notices, passwords, rulecache, units
from client.core.store import Store
from client.errors import AuthError, TaxSideRejection, ValidationError
from rules.packs import bundled_pack_text


@pytest.fixture
def store(engine_store: Store) -> Store:
    """The tests that keep data run on SQLite and on PostgreSQL (tests/conftest.py)."""
    return engine_store


@pytest.mark.parametrize(
    ("new", "confirm", "field", "words"),
    [
        ("", "", "new_password", "请输入"),
        ("abc123", "abc123", "new_password", "长度应为8-32位"),
        ("a1" * 17, "a1" * 17, "new_password", "长度应为8-32位"),
        ("abcdefgh", "abcdefgh", "new_password", "字母和数字"),
        ("12345678", "12345678", "new_password", "字母和数字"),
        ("abcd 1234", "abcd 1234", "new_password", "不能有空格"),
        ("密码abcd1234", "密码abcd1234", "new_password", "不能有空格或中文"),
        ("Abcd1234", "Abcd1234", "new_password", "不能与原密码"),
        ("Abcd12345", "Abcd1234", "confirm_password", "两次输入"),
    ],
)
def test_password_rules_name_the_field(new: str, confirm: str, field: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        passwords.check_new_password(new, confirm, old="Abcd1234")
    assert info.value.field == field
    assert words in info.value.message


def test_good_passwords_pass() -> None:
    for good in ("Abcd1234", "x" * 31 + "1", "pa$$w0rd!"):
        passwords.check_new_password(good, good, old="123456")


def test_hash_is_salted_scrypt_and_verifies() -> None:
    one, two = passwords.hash_password("Secret2025"), passwords.hash_password("Secret2025")
    assert one != two and one.startswith("scrypt$") and "Secret2025" not in one
    assert passwords.verify_password("Secret2025", one)
    assert not passwords.verify_password("Secret2026", one)
    assert not passwords.verify_password("Secret2025", None)
    assert not passwords.verify_password("Secret2025", "scrypt$garbage")
    tampered = one[:-4] + ("AAAA" if not one.endswith("AAAA") else "BBBB")
    assert not passwords.verify_password("Secret2025", tampered)


def test_offline_hash_follows_the_last_accepted_password(store: Store) -> None:
    units.add_or_restore(store, "U1", "91110112UJ65RGFLKK", "甲公司", "110000")
    assert not units.get_unit("U1").offline_ready
    assert not units.check_offline_password("U1", "First2025")
    units.mark_login(store, "U1", "First2025")
    assert units.check_offline_password("U1", "First2025")
    units.mark_login(store, "U1", "Second2025")
    assert not units.check_offline_password("U1", "First2025")
    assert units.check_offline_password("U1", "Second2025")
    raw = store.db.execute_sql("SELECT offline_hash FROM unit").fetchone()[0]
    assert "Second2025" not in raw


def test_remove_unit_keeps_or_drops_its_data(store: Store) -> None:
    units.add_or_restore(store, "U1", "91110112UJ65RGFLKK", "甲公司", "110000")
    units.mark_login(store, "U1", "First2025")
    units.remove_unit(store, "U1", keep_data=True)
    assert units.list_units() == [] and units.get_unit("U1", include_removed=True) is not None
    units.add_or_restore(store, "U1", "91110112UJ65RGFLKK", "甲公司", "110000")
    assert units.get_unit("U1").offline_ready  # came back with its data
    units.remove_unit(store, "U1", keep_data=False)
    assert units.get_unit("U1", include_removed=True) is None


def test_login_password_is_a_hash_and_needs_the_old_one(store: Store) -> None:
    assert not passwords.login_password_set()
    passwords.set_login_password(store, "", "Local2025", "Local2025")
    assert passwords.verify_login_password("Local2025")
    with pytest.raises(AuthError):
        passwords.set_login_password(store, "nope", "Other2025", "Other2025")
    with pytest.raises(AuthError):
        passwords.clear_login_password(store, "nope")
    passwords.clear_login_password(store, "Local2025")
    assert not passwords.login_password_set()


def test_no_keyring_here_means_no_remembering() -> None:
    status = passwords.keyring_status()
    assert not status.available and "明文" in status.reason
    assert passwords.recall_password("U1") is None


def test_a_bad_rule_pack_never_replaces_the_good_one(store: Store) -> None:
    text = bundled_pack_text("110000")
    rulecache.save(store, "110000", "2025.07.1", "x", text)
    with pytest.raises(TaxSideRejection):
        rulecache.save(
            store, "110000", "2025.08.1", "y", text.replace("[late_fee]", "[late_fe]")
        )
    with pytest.raises(TaxSideRejection):
        rulecache.save(store, "310000", "2025.07.1", "z", text)  # region mismatch
    found = rulecache.in_force("110000")
    assert found.source == rulecache.SOURCE_TAXSIDE and found.pack.version == "2025.07.1"
    assert rulecache.in_force("140000").source == rulecache.SOURCE_BUNDLED
    assert rulecache.in_force("999999") is None


def test_notices_replace_the_region_and_keep_read_marks(store: Store) -> None:
    import datetime as dt
    from types import SimpleNamespace

    def notice(nid: str, region: str | None, popup: bool = False) -> SimpleNamespace:
        return SimpleNamespace(
            notice_id=nid,
            region=region,
            title=f"标题{nid}",
            body="内容",
            published_on=dt.date(2025, 3, 1),
            valid_until=dt.date(2025, 4, 1),
            importance="重要",
            popup=popup,
        )

    store = store
    assert (
        notices.replace_region(store, "110000", [notice("N1", None, True), notice("N2", "110000")])
        == 2
    )
    notices.mark_read(store, "N2")
    assert [n.notice_id for n in notices.popups("110000")] == ["N1"]
    assert notices.replace_region(store, "110000", [notice("N2", "110000")]) == 0
    assert [(n.notice_id, n.read) for n in notices.list_notices("110000")] == [("N2", True)]
