"""Server-side paging, sorting and filtering for the shared data table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import peewee

from client.errors import ValidationError

MAX_PAGE_SIZE = 500
MAX_PAGE = 1_000_000_000  # far past any real list; a larger page's offset overflows SQLite
_INTEGER = re.compile(r"[+-]?[0-9]+")


def _whole(value: object, label: str, field: str) -> int:
    text = str(value).strip()
    if not _INTEGER.fullmatch(text):  # ASCII digits only: int() would take "２" too
        raise ValidationError(f"{label}必须是整数", field=field)
    if len(text) > 18:  # out of range either way: the checks below say which end
        return -(10**18) if text.startswith("-") else 10**18
    return int(text)


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    size: int = 50
    sort: str | None = None
    descending: bool = False

    @classmethod
    def parse(cls, args: dict[str, str], default_size: int = 50) -> PageRequest:
        page = _whole(args.get("page", 1), "页码", "page")
        size = _whole(args.get("size", default_size), "每页行数", "size")
        if page < 1:
            raise ValidationError("页码必须从 1 开始", field="page")
        if page > MAX_PAGE:  # the row offset must fit SQLite's 64-bit integer
            raise ValidationError(f"页码不能超过 {MAX_PAGE:,}", field="page")
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValidationError(f"每页行数必须在 1 到 {MAX_PAGE_SIZE} 之间", field="size")
        sort = args.get("sort") or None
        return cls(page, size, sort, args.get("order", "asc") == "desc")


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int
    page: int
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "total": self.total, "page": self.page, "size": self.size}


def paginate(
    query: peewee.ModelSelect,
    request: PageRequest,
    sortable: dict[str, peewee.Field],
    tiebreak: peewee.Field,
) -> tuple[list[Any], int]:
    """Rows of one page and the total count; sorting only by the columns offered.

    Without a sort the newest rows (highest ``tiebreak``) come first; with one, equal
    values keep ``tiebreak`` order in the same direction, so pages never overlap.
    """
    if request.sort is not None:
        column = sortable.get(request.sort)
        if column is None:
            raise ValidationError(f"不能按「{request.sort}」排序", field="sort")
        direction = "desc" if request.descending else "asc"
        order = [getattr(column, direction)(), getattr(tiebreak, direction)()]
    else:
        order = [tiebreak.desc()]
    total = query.count()
    rows = list(query.order_by(*order).paginate(request.page, request.size))
    return rows, total
