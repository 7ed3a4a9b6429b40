"""The rule pack the tax side decides by, per region (served pack, else the bundled one)."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from flask import current_app

from rules.model import PackError, RulePack
from rules.packs import load_pack, parse_pack
from taxside.web import ApiError

log = logging.getLogger("taxside")


def packs_dir() -> Path:
    configured = current_app.config["PACKS_DIR"]
    if configured is not None:
        return configured
    import rules

    return Path(rules.__file__).parent / "packs"


@functools.lru_cache(maxsize=32)
def _parsed_pack(path: str, mtime_ns: int, size: int) -> RulePack | None:
    try:
        return parse_pack(Path(path).read_text(encoding="utf-8"))
    except (OSError, PackError) as exc:
        log.warning("rule pack %s not usable for decisions: %s", path, exc)
        return None


def find_pack(region: str) -> RulePack:
    """The rules the tax side decides by: the pack it serves, else the bundled one (a test
    may serve a stub pack that does not parse). PackError when there is none."""
    path = packs_dir() / f"{region}.toml"
    if path.is_file():
        stat = path.stat()
        pack = _parsed_pack(str(path), stat.st_mtime_ns, stat.st_size)
        if pack is not None:
            return pack
    return load_pack(region)


def region_pack(region: str, business: str = "缴费工资申报") -> RulePack:
    """``find_pack`` for a view: no pack is a 422 answer."""
    try:
        return find_pack(region)
    except PackError:
        raise ApiError(422, "rules_unavailable", f"税务端没有本地区的业务规则，暂不能办理{business}") from None
