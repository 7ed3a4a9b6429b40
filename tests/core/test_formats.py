"""One way to write money, sizes, times and enrollment changes for the operator."""

from __future__ import annotations

import json
from decimal import Decimal

from client.core import formats


def test_money_time_size() -> None:
    assert formats.money(Decimal("8538")) == "8,538.00"
    assert formats.money("1234567.891") == "1,234,567.89"
    assert formats.money("") == "" and formats.money("abc") == "abc"
    assert formats.when("2025-03-15T08:30:00.123456") == "2025-03-15 08:30:00"
    assert formats.when("2025-03-15 08:30:00") == "2025-03-15 08:30:00"
    assert formats.size(512) == "512 字节" and formats.size(3 * 1024 * 1024) == "3.0 MB"


def test_change_descriptions_are_sentences() -> None:
    old = json.dumps({"injury": "8538.00", "pension": "8538.00"})
    new = json.dumps({"injury": "8538.00", "pension": "8964.90", "medical": "9000.00"})
    text = formats.describe_change("缴费基数", old, new)
    assert text == "养老保险 8,538.00 → 8,964.90；医疗保险 — → 9,000.00"
    assert formats.describe_change("参保险种", '["pension"]', '["pension", "medical"]') == (
        "参保险种：养老保险 → 养老保险、医疗保险"
    )
    assert formats.describe_change("证件类型", "201", "208", {"201": "居民身份证", "208": "外国护照"}) == (
        "证件类型：居民身份证 → 外国护照"
    )
    assert formats.describe_change("姓名", "张三", "张叁") == "姓名：张三 → 张叁"
