"""`socialfee backup ...`: backups for administrators (click group mounted by client/cli.py)."""

from __future__ import annotations

import click


@click.group("backup")
def backup_group() -> None:
    """备份与恢复"""
