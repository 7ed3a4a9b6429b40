"""Pytest fixtures: a live reference tax side on 127.0.0.1:0 in the test process.

Loaded from tests/conftest.py via ``pytest_plugins = ["tests.taxside_fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from taxside.generate import UnitCredentials, generate
from taxside.server import RunningTaxSide, start


@dataclass
class LiveTaxSide:
    """A running sandbox with demo data; ``sim`` drives its simulation API."""

    running: RunningTaxSide
    db_path: Path
    units: list[UnitCredentials]

    @property
    def url(self) -> str:
        return self.running.url

    def sim(self, method: str, path: str, json: Any = None) -> Any:
        resp = httpx.request(method, f"{self.url}/sim{path}", json=json, timeout=30, trust_env=False)
        resp.raise_for_status()
        return resp.json()

    def fault(self, path_prefix: str, kind: str, **spec: Any) -> dict[str, Any]:
        return self.sim("POST", "/faults", {"path_prefix": path_prefix, "kind": kind, **spec})

    def clear_faults(self) -> None:
        self.sim("DELETE", "/faults")

    def unit(self, index: int = 0) -> UnitCredentials:
        return self.units[index]


TaxSideFactory = Callable[..., LiveTaxSide]


@pytest.fixture
def taxside_factory(tmp_path: Path) -> Iterator[TaxSideFactory]:
    """Start tax sides with chosen data: ``factory(units=6, employees=300, seed=11, ...)``."""
    started: list[LiveTaxSide] = []

    def factory(
        *,
        units: int = 6,
        employees: int = 300,
        seed: int = 11,
        simulation: bool = True,
        packs_dir: Path | None = None,
        lock_minutes: int = 30,
    ) -> LiveTaxSide:
        db_path = tmp_path / f"taxside-{len(started)}.sqlite3"
        creds = generate(db_path, units=units, employees=employees, seed=seed)
        running = start(db_path, simulation=simulation, packs_dir=packs_dir, lock_minutes=lock_minutes)
        live = LiveTaxSide(running, db_path, creds)
        started.append(live)
        return live

    yield factory
    for live in started:
        live.running.stop()


@pytest.fixture
def taxside(taxside_factory: TaxSideFactory) -> LiveTaxSide:
    """A live tax side in simulation mode: 6 units, 300 employees, seed 11."""
    return taxside_factory()
