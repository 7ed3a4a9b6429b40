"""One way to write money, sizes and times for the operator (on screen and in messages).

The JavaScript twin is client/web/static/js/format.js; both write 12,345.60 and
2025-03-15 08:30:00 whatever the PC's locale.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ITEM_LABELS = {
    "pension": "养老保险",
    "medical": "医疗保险",
    "unemployment": "失业保险",
    "injury": "工伤保险",
    "maternity": "生育保险",
}


def money(value: Decimal | str | int | None) -> str:
    """8538 -> '8,538.00'; text that is not a number is shown as it is."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return str(value)
    return f"{amount:,.2f}"


def size(n: int) -> str:
    """A byte count as the operator reads it: 1.5 MB, 820 KB."""
    value = float(n)
    for unit in ("字节", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "字节" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} 字节"  # unreachable: GB ends the loop


def when(value: str | dt.datetime | None) -> str:
    """An ISO time (with T, microseconds or an offset) as 2025-03-15 08:30:00."""
    if not value:
        return ""
    text = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else str(value)
    text = text.replace("T", " ", 1)
    return text[:19] if len(text) >= 19 and text[4] == "-" else text


def _loads(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _bases_change(old: Any, new: Any) -> list[str]:
    before = old if isinstance(old, Mapping) else {}
    after = new if isinstance(new, Mapping) else {}
    order = [k for k in ITEM_LABELS if k in before or k in after]
    order += sorted(k for k in {*before, *after} if k not in ITEM_LABELS)
    return [
        f"{ITEM_LABELS.get(k, k)} {money(before.get(k)) or '—'} → {money(after.get(k)) or '—'}"
        for k in order
        if before.get(k) != after.get(k)
    ]


def _items(value: Any) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "、".join(ITEM_LABELS.get(str(v), str(v)) for v in value) or "—"
    return str(value or "—")


def describe_change(field: str, old: Any, new: Any, id_types: Mapping[str, str] | None = None) -> str:
    """One changed field of an employee as a sentence: 养老保险 8,538.00 → 8,964.90."""
    if field == "缴费基数":
        parts = _bases_change(_loads(old), _loads(new))
        return "；".join(parts) if parts else "缴费基数未变"
    if field == "参保险种":
        return f"参保险种：{_items(_loads(old))} → {_items(_loads(new))}"
    if field == "证件类型" and id_types:
        old, new = id_types.get(str(old), old), id_types.get(str(new), new)
    return f"{field}：{old or '—'} → {new or '—'}"
