"""Units on this PC (多单位管理): which units were registered here, their last good
registration from the tax side, the offline-entry hash, and removal.

The registration is kept as the JSON the tax side's answer was parsed into (see
``Registration``); a failed refresh leaves the last good one in place.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

from client.core import passwords
from client.core.models import AuditLog, Unit
from client.core.store import Store
from client.errors import NotFoundError

KIND_LABELS = {
    "medical": "医疗保险",
    "pension": "养老保险",
    "unemployment": "失业保险",
    "injury": "工伤保险",
}
ITEM_LABELS = {
    "pension": "企业职工基本养老保险",
    "medical": "职工基本医疗保险",
    "unemployment": "失业保险",
    "injury": "工伤保险",
    "maternity": "生育保险",
}
REGION_LABELS = {"110000": "北京市", "310000": "上海市", "140000": "山西省"}


def region_label(region: str) -> str:
    return REGION_LABELS.get(region, region)


@dataclass(frozen=True)
class UnitNumber:
    number: str
    kind: str
    kind_label: str
    items: tuple[str, ...]
    item_labels: str
    agency: str


@dataclass(frozen=True)
class Registration:
    """税务登记信息 and 参保登记信息 of one unit, as last received."""

    unit_id: str
    taxpayer_id: str
    name: str
    tax_authority: str
    registration_type: str
    region: str
    region_label: str
    industry_risk_class: int
    collection_mode: str
    is_government: bool
    unit_numbers: tuple[UnitNumber, ...]
    password_changed_at: str | None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Registration:
        numbers = tuple(
            UnitNumber(
                n["number"], n["kind"], KIND_LABELS.get(n["kind"], n["kind"]), tuple(n["items"]),
                "、".join(ITEM_LABELS.get(i, i) for i in n["items"]), n["agency"],
            )
            for n in data["unit_numbers"]
        )
        fields = {k: v for k, v in data.items() if k not in ("unit_numbers", "region_label")}
        return cls(**fields, unit_numbers=numbers, region_label=region_label(data["region"]))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LocalUnit:
    id: int
    unit_id: str  # the tax side's id
    taxpayer_id: str
    name: str
    region: str
    region_label: str
    added_at: str
    last_login_at: str | None
    registration_at: str | None
    offline_ready: bool  # a password hash exists: offline entry possible

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return dt.datetime.now().isoformat(sep=" ", timespec="seconds")


def _local(row: Unit) -> LocalUnit:
    return LocalUnit(
        row.id, row.taxside_unit_id, row.taxpayer_id, row.name, row.region, region_label(row.region),
        row.added_at, row.last_login_at, row.registration_at, bool(row.offline_hash),
    )


def list_units() -> list[LocalUnit]:
    """Units registered on this PC, the most recently used first."""
    rows = Unit.select().where(Unit.removed_at.is_null()).order_by(
        Unit.last_login_at.desc(nulls="LAST"), Unit.id
    )
    return [_local(r) for r in rows]


def get_unit(unit_id: str, *, include_removed: bool = False) -> LocalUnit | None:
    row = Unit.get_or_none(Unit.taxside_unit_id == unit_id)
    if row is None or (row.removed_at and not include_removed):
        return None
    return _local(row)


def _row(unit_id: str) -> Unit:
    row = Unit.get_or_none(Unit.taxside_unit_id == unit_id)
    if row is None:
        raise NotFoundError(f"本机没有单位 {unit_id}", code="unit_not_local")
    return row


def add_or_restore(store: Store, unit_id: str, taxpayer_id: str, name: str, region: str) -> LocalUnit:
    """Record a unit whose password check passed; a removed-but-kept unit comes back."""
    with store.write():
        row = Unit.get_or_none(Unit.taxside_unit_id == unit_id)
        if row is None:
            row = Unit.create(
                taxside_unit_id=unit_id, taxpayer_id=taxpayer_id, name=name, region=region,
                added_at=_now(),
            )
        else:
            row.taxpayer_id, row.name, row.region, row.removed_at = taxpayer_id, name, region, None
            row.save()
    return _local(row)


def mark_login(store: Store, unit_id: str, password: str | None) -> None:
    """A login succeeded with a full-scope password: remember when, and its hash for
    offline entry (the hash is replaced on every login, so it follows changes)."""
    digest = passwords.hash_password(password) if password else None
    with store.write():
        row = _row(unit_id)
        row.last_login_at = _now()
        if digest:
            row.offline_hash = digest
        row.save()


def check_offline_password(unit_id: str, password: str) -> bool:
    row = Unit.get_or_none(Unit.taxside_unit_id == unit_id)
    return row is not None and passwords.verify_password(password, row.offline_hash)


def save_registration(store: Store, registration: dict[str, Any]) -> Registration:
    parsed = Registration.from_dict(registration)  # refuse what we could not show later
    with store.write():
        row = _row(parsed.unit_id)
        row.registration = json.dumps(registration, ensure_ascii=False)
        row.registration_at = _now()
        row.name, row.region, row.taxpayer_id = parsed.name, parsed.region, parsed.taxpayer_id
        row.save()
    return parsed


def registration(unit_id: str) -> Registration | None:
    row = Unit.get_or_none(Unit.taxside_unit_id == unit_id)
    if row is None or not row.registration:
        return None
    return Registration.from_dict(json.loads(row.registration))


def remove_unit(store: Store, unit_id: str, *, keep_data: bool) -> None:
    """Remove a unit from this PC. Keeping its data only hides it (adding it again brings
    everything back); otherwise its rows go (the audit log keeps its entries, unlinked)."""
    passwords.forget_password(unit_id)
    with store.write():
        row = _row(unit_id)
        if keep_data:
            row.removed_at = _now()
            row.save()
        else:
            AuditLog.update(unit=None).where(AuditLog.unit == row.id).execute()
            row.delete_instance()
