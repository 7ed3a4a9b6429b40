"""大写金额: a table of bank-form cases, refusals, and a strict parser that reads every output back."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.core.capitals import in_words
from client.errors import ValidationError

KNOWN = [
    ("0", "零元整"),
    ("0.00", "零元整"),
    ("0.05", "伍分"),
    ("0.50", "伍角"),
    ("0.15", "壹角伍分"),
    ("1", "壹元整"),
    ("10", "壹拾元整"),
    ("10.05", "壹拾元零伍分"),
    ("20.30", "贰拾元零叁角"),
    ("10.50", "壹拾元零伍角"),
    ("100.05", "壹佰元零伍分"),
    ("110", "壹佰壹拾元整"),
    ("325.04", "叁佰贰拾伍元零肆分"),
    ("1004.50", "壹仟零肆元伍角"),
    ("1680.32", "壹仟陆佰捌拾元零叁角贰分"),
    ("10001", "壹万零壹元整"),
    ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
    ("30000", "叁万元整"),
    ("100000.00", "壹拾万元整"),
    ("100100", "壹拾万零壹佰元整"),
    ("101000", "壹拾万壹仟元整"),
    ("107000.53", "壹拾万柒仟元零伍角叁分"),
    ("153676.80", "壹拾伍万叁仟陆佰柒拾陆元捌角"),
    ("1010000", "壹佰零壹万元整"),
    ("1200000", "壹佰贰拾万元整"),
    ("100000000", "壹亿元整"),
    ("100000001", "壹亿零壹元整"),
    ("100010000", "壹亿零壹万元整"),
    ("100000000.01", "壹亿元零壹分"),
    ("1000000000", "壹拾亿元整"),
    ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
]


@pytest.mark.parametrize(("amount", "words"), KNOWN)
def test_known_amounts(amount: str, words: str) -> None:
    assert in_words(Decimal(amount)) == words


def test_int_is_exact_too() -> None:
    assert in_words(100000) == "壹拾万元整"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (1.5, "精确的十进制数"),
        ("12.00", "精确的十进制数"),
        (True, "精确的十进制数"),
        (None, "精确的十进制数"),
        (Decimal("NaN"), "不是有效的数字"),
        (Decimal("Infinity"), "不是有效的数字"),
        (Decimal("-0.01"), "不能为负数"),
        (-5, "不能为负数"),
        (Decimal("1.005"), "最多两位小数"),
        (Decimal("1000000000000"), "金额过大"),
    ],
)
def test_refused_with_a_chinese_message(amount: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        in_words(amount, field="total")  # type: ignore[arg-type]
    assert info.value.field == "total"


# --- a strict reader of the bank-form grammar, written apart from the code under test ---

DIGIT = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
SMALL = {"仟": 1000, "佰": 100, "拾": 10}
GROUP_WITH_ZEROS = r"[零壹贰叁肆伍陆柒捌玖仟佰拾]{1,7}"


def _read_group(text: str) -> int:
    """At most four digits with units; one 零 exactly where places are skipped between digits."""
    assert text and not text.startswith("零") and not text.endswith("零"), text
    value, place, zero = 0, 10_000, False
    for part in re.findall(r"零|[壹贰叁肆伍陆柒捌玖][仟佰拾]?", text):
        if part == "零":
            assert not zero, text
            zero = True
            continue
        unit = SMALL.get(part[1:], 1)
        assert unit < place, f"units out of order in {text}"
        if place != 10_000:
            assert zero == (unit < place // 10), f"零 wrong in {text}"
        value += DIGIT[part[0]] * unit
        place, zero = unit, False
    assert re.fullmatch(GROUP_WITH_ZEROS, text), text
    return value


def _read_integer(text: str) -> int:
    total, rest = 0, text
    for unit, scale in (("亿", 10**8), ("万", 10**4)):
        if unit not in rest:
            continue
        head, rest = rest.split(unit, 1)
        total += _read_group(head) * scale
        lower = _read_integer(rest.removeprefix("零")) if rest.removeprefix("零") else 0
        # 零 after 亿 / 万 exactly when the lower part is there but starts with zeros.
        assert rest.startswith("零") == (0 < lower < scale // 10), f"零 wrong in {text}"
        return total + lower
    return _read_group(rest)


def parse(words: str) -> Decimal:
    """Back to the amount; asserts the grammar (整 only after 元, 零 only where it belongs)."""
    if words == "零元整":
        return Decimal("0.00")
    m = re.fullmatch(r"(?:(?P<int>[^元]+)元)?(?P<tail>.*)", words)
    assert m, words
    yuan = _read_integer(m["int"]) if m["int"] else 0
    tail = m["tail"]
    if tail == "整":
        assert m["int"], words
        return Decimal(yuan).quantize(Decimal("0.01"))
    t = re.fullmatch(r"(?P<z>零)?(?:(?P<j>[壹贰叁肆伍陆柒捌玖])角)?(?:(?P<f>[壹贰叁肆伍陆柒捌玖])分)?", tail)
    assert t and (t["j"] or t["f"]), words
    # 零 after 元 exactly when there are yuan and either 角 is zero (分 is not), or 元位 is.
    assert bool(t["z"]) == bool(m["int"] and (not t["j"] or yuan % 10 == 0)), words
    jiao, fen = DIGIT[t["j"]] if t["j"] else 0, DIGIT[t["f"]] if t["f"] else 0
    return Decimal(yuan) + Decimal(jiao) / 10 + Decimal(fen) / 100


cents = st.integers(min_value=0, max_value=10**14 - 1)
# Sparse digits: amounts with runs of zeros are where the 零 rules bite.
sparse = st.lists(st.sampled_from("0000000123456789"), min_size=1, max_size=14).map(
    lambda ds: int("".join(ds))
)


@given(st.one_of(cents, sparse))
def test_words_read_back_to_the_amount(n: int) -> None:
    amount = Decimal(n) / 100
    words = in_words(amount)
    assert parse(words) == amount.quantize(Decimal("0.01"))
    assert "零零" not in words and not re.search(r".零[万亿元]", words), words
    if n % 100 == 0:
        assert words.endswith("整")
    else:
        assert "整" not in words


@given(st.integers(min_value=10, max_value=19))
def test_leading_ten_is_written_with_one(n: int) -> None:
    assert in_words(Decimal(n)).startswith("壹拾")
