"""What every bench script shares: the FIGURE line and a reference tax side to talk to."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def figure(name: str, value: float, unit: str, floor: float | None = None) -> None:
    """One line in the form DEVELOPERS.md asks for; ratio = value / floor of the same run."""
    line = f"FIGURE {name} value={value:.3f} unit={unit}"
    if floor is not None:
        line += f" floor={floor:.3f} ratio={value / floor:.2f}"
    print(line, flush=True)


def serve_taxside(db: Path) -> tuple[subprocess.Popen, str]:
    """The reference tax side on a free loopback port, in its own process (as in production)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "client", "taxside", "serve", "--db", str(db), "--port", "0", "--simulation"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    url = line.split("：", 1)[1].split("（", 1)[0].split("，", 1)[0].strip()
    return proc, url


def paired(name: str, unit: str, value: Callable[[], float], floor: Callable[[], float],
           rounds: int) -> tuple[float, float]:
    """value and floor measured alike on a shared machine: ``rounds`` of each, interleaved
    (floor, value, floor, value, ...), median against median; every run is printed too."""
    values: list[float] = []
    floors: list[float] = []
    for _ in range(rounds):
        floors.append(floor())
        values.append(value())
    shown = " ".join(f"{v:.3f}/{f:.3f}" for v, f in zip(values, floors, strict=True))
    print(f"# {name} value/floor per round: {shown}", flush=True)
    median_value, median_floor = statistics.median(values), statistics.median(floors)
    figure(name, median_value, unit, median_floor)
    return median_value, median_floor
