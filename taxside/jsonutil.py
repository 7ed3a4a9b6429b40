"""Fast JSON for the tax side: orjson when installed, the standard library otherwise.

Columns that already hold JSON text (items, bases) are embedded without re-parsing via
``orjson.Fragment``; that is most of the speed of the enrollment feed.
"""

from __future__ import annotations

import json
from typing import Any

try:  # optional speed-up; the protocol is the same either way
    import orjson
except ImportError:  # pragma: no cover - exercised only without orjson
    orjson = None  # type: ignore[assignment]


def dumps(value: Any) -> bytes:
    if orjson is not None:
        return orjson.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data)


def raw(json_text: str) -> Any:
    """A value stored as JSON text, to be embedded in a response as is."""
    if orjson is not None:
        return orjson.Fragment(json_text)
    return json.loads(json_text)
