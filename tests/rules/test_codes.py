from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.codes import (
    USCC_CHARSET,
    birth_date,
    check_id_number,
    check_taxpayer_id,
    check_uscc,
    gender_of,
    id_check_char,
    normalize_id_number,
    normalize_name,
    normalize_text,
    uscc_check_char,
)


@pytest.mark.parametrize("value", ["11010519491231002X", "440524188001010014", "11010519491231002x"])
def test_standard_id_examples_valid(value: str) -> None:
    assert check_id_number(value) is None


def test_full_width_and_spaces_normalised() -> None:
    assert check_id_number("１１０１０５１９４９１２３１００２Ｘ") is None
    assert check_id_number(" 110105 19491231 002X\u3000") is None
    assert normalize_id_number("１１０１０５１９４９１２３１００２ｘ") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "为空"),
        ("110105491231002", "15位"),
        ("1101051949123100", "应为18位"),
        ("11010519491231002Y", "数字和末位X"),
        ("1101051949123X002X", "数字和末位X"),
        ("110105194913310021", "出生日期"),
        ("110105194902300027", "出生日期"),
        ("110105179901010010", "出生日期"),
        ("110105194912310021", "校验位"),
        ("4.10102E+17", "18位"),
    ],
)
def test_id_reasons(value: str, reason: str) -> None:
    message = check_id_number(value)
    assert message is not None and reason in message


def test_id_helpers() -> None:
    assert id_check_char("11010519491231002") == "X"
    assert birth_date("11010519491231002X") == dt.date(1949, 12, 31)
    assert gender_of("11010519491231002X") == "女"
    assert gender_of("440524188001010014") == "男"
    with pytest.raises(ValueError):
        id_check_char("1101051949")


def test_uscc_standard_example() -> None:
    assert check_uscc("91350100M000100Y43") is None
    assert check_uscc("91350100m000100y43") is None
    assert uscc_check_char("91350100M000100Y4") == "3"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "为空"),
        ("91350100M000100Y4", "应为18位"),
        ("91350100M000100Y4O", "不允许的字符"),
        ("91350100M000100Y44", "校验位"),
    ],
)
def test_uscc_reasons(value: str, reason: str) -> None:
    message = check_uscc(value)
    assert message is not None and reason in message


def test_taxpayer_ids() -> None:
    assert check_taxpayer_id("91350100M000100Y43") is None
    assert check_taxpayer_id("110105123456789") is None
    assert check_taxpayer_id("11010512345678901234") is None
    assert "字母和数字" in (check_taxpayer_id("11010512345678-") or "")
    assert "15、18或20位" in (check_taxpayer_id("1234") or "")
    assert "为空" in (check_taxpayer_id("") or "")


def test_names() -> None:
    assert normalize_name("  阿依古丽•买买提 ") == "阿依古丽·买买提"
    assert normalize_name("ＡＢＣ") == "ABC"
    assert normalize_text(" a\tb\u3000c ") == "abc"


id_bodies = st.builds(
    lambda area, day, seq: f"{area}{day:%Y%m%d}{seq:03d}",
    st.from_regex(r"[1-6][0-9]{5}", fullmatch=True),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2024, 12, 31)),
    st.integers(0, 999),
)


@given(id_bodies)
def test_generated_ids_valid_and_one_digit_change_detected(body: str) -> None:
    number = body + id_check_char(body)
    assert check_id_number(number) is None
    wrong = "0" if number[-1] != "0" else "1"
    assert check_id_number(number[:-1] + wrong) is not None


@given(st.text(alphabet=USCC_CHARSET, min_size=17, max_size=17))
def test_generated_uscc_valid(body: str) -> None:
    code = body + uscc_check_char(body)
    assert check_uscc(code) is None
    other = next(c for c in USCC_CHARSET if c != code[-1])
    assert check_uscc(code[:-1] + other) is not None
