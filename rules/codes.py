"""Identity-code checks: GB 11643 ID numbers, GB 32100 credit codes, person elements.

Pure functions. Each ``check_*`` returns ``None`` when the value is valid and a Chinese
reason when it is not, so callers can put the reason next to the row and field.
"""

from __future__ import annotations

import datetime as _dt
import unicodedata

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"  # index = weighted sum mod 11

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def normalize_text(value: str) -> str:
    """Full-width to half-width (NFKC), strip spaces of every kind inside and around."""
    text = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in text if not ch.isspace())


def normalize_id_number(value: str) -> str:
    """ID numbers as the tax side stores them: half-width, no spaces, upper-case X."""
    return normalize_text(value).upper()


def normalize_name(value: str) -> str:
    """Names keep the middle dot of minority names; full-width forms become half-width."""
    text = unicodedata.normalize("NFKC", value).strip()
    text = text.replace("•", "·").replace("・", "·").replace(".", "·")
    return " ".join(text.split())


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("前17位必须是数字")
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def check_id_number(value: str) -> str | None:
    """GB 11643-1999 18-digit resident ID: None when valid, else a Chinese reason."""
    number = normalize_id_number(value)
    if not number:
        return "证件号码为空"
    if len(number) == 15 and number.isdigit():
        return "证件号码为15位，请使用18位居民身份证号码"
    if len(number) != 18:
        return f"证件号码应为18位，实际为{len(number)}位"
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return "证件号码只能由数字和末位X组成"
    if birth_date(number) is None:
        return "证件号码中的出生日期无效"
    expected = id_check_char(number[:17])
    if number[17] != expected:
        return "证件号码校验位错误"
    return None


def birth_date(id_number: str) -> _dt.date | None:
    """The birth date in digits 7-14, or None when it is not a real date in range."""
    digits = id_number[6:14]
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        day = _dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
    if day.year < 1800:
        return None
    return day


def gender_of(id_number: str) -> str:
    """男 or 女 from the 17th digit (odd: male)."""
    return "男" if int(id_number[16]) % 2 else "女"


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters."""
    if len(first17) != 17:
        raise ValueError("前17位长度不对")
    total = 0
    for ch, weight in zip(first17, USCC_WEIGHTS, strict=True):
        index = USCC_CHARSET.find(ch)
        if index < 0:
            raise ValueError(f"字符 {ch} 不在统一社会信用代码字符集中")
        total += index * weight
    return USCC_CHARSET[(31 - total % 31) % 31]


def check_uscc(value: str) -> str | None:
    """GB 32100-2015 unified social credit code: None when valid, else a Chinese reason."""
    code = normalize_text(value).upper()
    if not code:
        return "统一社会信用代码为空"
    if len(code) != 18:
        return f"统一社会信用代码应为18位，实际为{len(code)}位"
    bad = [ch for ch in code if ch not in USCC_CHARSET]
    if bad:
        return f"统一社会信用代码含有不允许的字符：{''.join(sorted(set(bad)))}（不使用I、O、S、V、Z）"
    if code[17] != uscc_check_char(code[:17]):
        return "统一社会信用代码校验位错误"
    return None


def check_taxpayer_id(value: str) -> str | None:
    """纳税人识别号: an 18-character code must pass GB 32100; older 15- or 20-character IDs
    are accepted as letters and digits only."""
    code = normalize_text(value).upper()
    if len(code) == 18:
        return check_uscc(code)
    if len(code) in (15, 20):
        if code.isascii() and code.isalnum():
            return None
        return "纳税人识别号只能由字母和数字组成"
    if not code:
        return "纳税人识别号为空"
    return f"纳税人识别号应为15、18或20位，实际为{len(code)}位"
