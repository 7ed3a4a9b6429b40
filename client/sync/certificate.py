"""Tax-side calls for 职工缴费证明 and 年金缴款通知单 (docs/protocol.md "Contribution records").

Kept out of TaxClient's class (client/sync/taxclient.py) so that area's mixins stay as they
are: each call takes the session and goes through its token renewal. Answers are checked
into client/core/certificate.py's types; a broken answer is the transport's 答复格式有误.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import InvalidOperation
from typing import Any

from client.core.certificate import PersonContributions, person_from_answer
from client.sync.session import SessionManager
from client.sync.taxclient import TaxClient
from client.sync.taxclient_transport import malformed

_BAD = (KeyError, TypeError, ValueError, InvalidOperation, AttributeError)


def person(session: SessionManager, id_type: str, id_number: str, period_from: str,
           period_to: str) -> PersonContributions:
    """One employee's months and items in the range, as the tax side holds them."""
    unit = session.require_entered()

    def call(client: TaxClient) -> Any:
        return client._get(f"/v1/units/{unit.unit_id}/contributions", id_type=id_type, id_number=id_number,
                           period_from=period_from, period_to=period_to)

    data = session.call(call)
    try:
        found = person_from_answer(data)
    except _BAD as exc:
        raise malformed(exc) from None
    if (found.id_type, found.id_number) != (id_type, id_number) or (found.period_from, found.period_to) != (
            period_from, period_to):
        raise malformed(ValueError("another person or range"))
    return found


def period_records(session: SessionManager, period: str, item: str = "pension") -> Iterator[Mapping[str, Any]]:
    """Every person's record of one month and item (the tax side's pages, in its order)."""
    unit = session.require_entered()
    cursor: str | None = None
    while True:
        def call(client: TaxClient, cursor: str | None = cursor) -> Any:
            return client._get(f"/v1/units/{unit.unit_id}/contributions/period", period=period, item=item,
                               cursor=cursor, limit=5000)

        data = session.call(call)
        try:
            items, more, cursor = list(data["items"]), bool(data["has_more"]), str(data.get("next_cursor") or "")
        except _BAD as exc:
            raise malformed(exc) from None
        yield from items
        if not more or not cursor:
            return
