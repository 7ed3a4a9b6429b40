"""The fee check's arithmetic is the engine's: pinned to rules.engine.calculate."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from client.core.fee_check import _Engine
from rules.engine import calculate
from rules.packs import load_pack
from rules.rounding import FEN


@pytest.mark.parametrize("region", ["110000", "140000"])
@pytest.mark.parametrize("risk", [1, 4, 8])
def test_shares_equal_the_engine(region: str, risk: int) -> None:
    pack = load_pack(region)
    rng = random.Random(region + str(risk))
    engine = _Engine(pack, risk)
    bases = ["0", "1", "3000.00", "6821.00", "35283.00", "99999.99"] + [
        f"{rng.randint(1000, 60000)}.{rng.randint(0, 99):02d}" for _ in range(200)
    ]
    for month in ("202407", "202503", "202506"):
        for text in bases:
            result = calculate(pack, month, Decimal(text), risk_class=risk)
            for item in result.items:
                for payer, fee in (("employer", item.employer), ("employee", item.employee)):
                    share = engine.share(month, item.code, payer, text)
                    if fee is None:
                        assert share is None
                        continue
                    assert share is not None
                    assert (share.base, share.amount) == (item.base, fee.amount)
                    assert share.amount_text == str(fee.amount.quantize(FEN))
                    assert engine.table(month, item.code, payer, [text])[text] == share


def test_injury_needs_a_risk_class() -> None:
    assert _Engine(load_pack("110000"), None).share("202503", "injury", "employer", "8000.00") is None
