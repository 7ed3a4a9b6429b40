"""Named rounding modes for money (元, with 角 = 0.1 and 分 = 0.01).

Regions round per item and payer; a rule pack names the mode by key or Chinese label.
Amounts here are never negative, so "up" and "down" mean away from and towards zero.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import Enum

FEN = Decimal("0.01")
JIAO = Decimal("0.1")
YUAN = Decimal("1")


class Rounding(Enum):
    """Each value is (key, Chinese label)."""

    HALF_UP_FEN = ("half_up_fen", "四舍五入到分")
    HALF_UP_JIAO = ("half_up_jiao", "四舍五入到角")
    UP_JIAO = ("up_jiao", "见分进角")
    DOWN_JIAO = ("down_jiao", "舍去到角")
    HALF_UP_YUAN = ("half_up_yuan", "到元")
    DOWN_FEN = ("down_fen", "舍去到分")
    UP_YUAN = ("up_yuan", "见角进元")
    DOWN_YUAN = ("down_yuan", "舍去到元")

    @property
    def key(self) -> str:
        return self.value[0]

    @property
    def label(self) -> str:
        return self.value[1]

    def apply(self, amount: Decimal) -> Decimal:
        return round_amount(amount, self)


_BY_NAME: dict[str, Rounding] = {}
for _mode in Rounding:
    _BY_NAME[_mode.key] = _mode
    _BY_NAME[_mode.label] = _mode
# 到元 as written in some notices; both mean half-up to the yuan.
_BY_NAME["四舍五入到元"] = Rounding.HALF_UP_YUAN


def rounding_names() -> list[str]:
    """Every accepted name: keys and Chinese labels."""
    return sorted(_BY_NAME)


def parse_rounding(name: str | Rounding) -> Rounding:
    """A mode from its key ("up_jiao") or Chinese label ("见分进角")."""
    if isinstance(name, Rounding):
        return name
    try:
        return _BY_NAME[str(name).strip()]
    except KeyError:
        keys = "、".join(mode.key for mode in Rounding)
        raise ValueError(f"未知的舍入方式：“{name}”，可用：{keys}") from None


def round_amount(amount: Decimal, mode: Rounding | str) -> Decimal:
    """Round a non-negative amount; the result always has two decimals (fen).

    见分进角 first rounds half-up to the fen, then any fen left raises the 角: a sub-fen
    remainder is not "a fen", and rounding stays idempotent.
    """
    mode = parse_rounding(mode)
    if not isinstance(amount, Decimal):
        raise TypeError("金额必须是 Decimal")
    if not amount.is_finite():
        raise ValueError("金额必须是有限数")
    if mode is Rounding.HALF_UP_FEN:
        result = amount.quantize(FEN, ROUND_HALF_UP)
    elif mode is Rounding.DOWN_FEN:
        result = amount.quantize(FEN, ROUND_DOWN)
    elif mode is Rounding.HALF_UP_JIAO:
        result = amount.quantize(JIAO, ROUND_HALF_UP)
    elif mode is Rounding.UP_JIAO:
        result = amount.quantize(FEN, ROUND_HALF_UP).quantize(JIAO, ROUND_CEILING)
    elif mode is Rounding.DOWN_JIAO:
        result = amount.quantize(JIAO, ROUND_DOWN)
    elif mode is Rounding.HALF_UP_YUAN:
        result = amount.quantize(YUAN, ROUND_HALF_UP)
    elif mode is Rounding.UP_YUAN:
        result = amount.quantize(FEN, ROUND_HALF_UP).quantize(YUAN, ROUND_CEILING)
    else:  # DOWN_YUAN
        result = amount.quantize(YUAN, ROUND_DOWN)
    # One display scale (two decimals) whatever the unit rounded to.
    return result.quantize(FEN)
