"""Amounts in words as Chinese bank forms write them (人民币大写金额).

The rules are those of the central bank's rules for filling in payment vouchers
(正确填写票据和结算凭证的基本规定):

- digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟 within a group of four, 万 and 亿 between groups;
  the leading ten is written 壹拾 (10 -> 壹拾元整), as forms require;
- one 零 for a run of zeros inside the integer part (1004 -> 壹仟零肆, 100100 -> 壹拾万零壹佰);
  a zero 万位 before a non-zero 千位 is not spoken, which the rules allow (101000 ->
  壹拾万壹仟);
- 整 after 元 when there are no 角 and 分; nothing after 角 or 分;
- 零 after 元 when 角 is zero and 分 is not (10.05 -> 壹拾元零伍分), and when 元位 is zero and
  角 is not, as the rules' own examples write it (1680.32 -> 壹仟陆佰捌拾元零叁角贰分,
  107000.53 -> 壹拾万柒仟元零伍角叁分); below one yuan only 角 / 分 are written
  (0.05 -> 伍分), and zero is 零元整.

Only exact amounts are taken: Decimal (or int) in whole cents, not negative, below one
万亿 (10^12). A float, NaN or a fraction of a cent is refused, never rounded.
"""

from __future__ import annotations

from decimal import Decimal

from client.errors import ValidationError

DIGITS = "零壹贰叁肆伍陆柒捌玖"
SMALL_UNITS = ("", "拾", "佰", "仟")
# The unit that follows each group of four, lowest group first.
GROUP_UNITS = ("", "万", "亿")
LIMIT = Decimal(10) ** 12
CENT = Decimal("0.01")


def _checked(amount: object, field: str | None) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise ValidationError(
            f"金额必须是精确的十进制数，不能是 {type(amount).__name__}：{amount!r}", field=field
        )
    value = Decimal(amount)
    if not value.is_finite():
        raise ValidationError(f"金额不是有效的数字：{amount}", field=field)
    if value < 0:
        raise ValidationError(f"金额不能为负数：{amount}", field=field)
    if value >= LIMIT:
        raise ValidationError(f"金额过大，大写金额只支持一万亿元以下：{amount}", field=field)
    if value != value.quantize(CENT):
        raise ValidationError(f"金额最多两位小数（到分）：{amount}", field=field)
    return value.quantize(CENT)


def _group(digits: str) -> str:
    """Four digits (thousands first) in words, one 零 for each inner run of zeros; '' for 0000."""
    out: list[str] = []
    zero = False
    for i, ch in enumerate(digits):
        d = int(ch)
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(DIGITS[d] + SMALL_UNITS[3 - i])
    return "".join(out)


def _integer(n: int) -> str:
    text = f"{n:012d}"
    groups = [text[i : i + 4] for i in range(0, 12, 4)]  # 亿, 万, units
    out: list[str] = []
    pending_zero = False
    for index, group in enumerate(groups):
        unit = GROUP_UNITS[2 - index]
        if group == "0000":
            pending_zero = bool(out)
            continue
        # A group that starts with zeros after a spoken higher group reads 零 (100100 ->
        # 壹拾万零壹佰), as does one after an empty group (100000001 -> 壹亿零壹).
        if out and (pending_zero or group[0] == "0"):
            out.append("零")
        out.append(_group(group) + unit)
        pending_zero = False
    return "".join(out)


def in_words(amount: Decimal | int, *, field: str | None = None) -> str:
    """Decimal('153676.80') -> '壹拾伍万叁仟陆佰柒拾陆元捌角'."""
    value = _checked(amount, field)
    cents = int(value * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if cents == 0:
        return "零元整"
    out = _integer(yuan) + "元" if yuan else ""
    if jiao == 0 and fen == 0:
        return out + "整"
    if yuan and (yuan % 10 == 0 or not jiao):
        out += "零"  # 10.05 -> 壹拾元零伍分, 1680.32 -> 壹仟陆佰捌拾元零叁角贰分
    if jiao:
        out += DIGITS[jiao] + "角"
    if fen:
        out += DIGITS[fen] + "分"
    return out
