"""`socialfee rules ...` and `socialfee check ...` (click groups mounted by client/cli.py)."""

from __future__ import annotations

import click


@click.group("rules")
def rules_group() -> None:
    """规则包：费额试算等"""


@click.group("check")
def check_group() -> None:
    """校验证件号码、统一社会信用代码"""
