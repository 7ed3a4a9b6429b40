"""`socialfee taxside ...`: the reference tax side (click group mounted by client/cli.py)."""

from __future__ import annotations

import click


@click.group("taxside")
def taxside_group() -> None:
    """参考税务端（演示、培训与集成测试用）"""
