"""How views reach the services the composition root built (client/app.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from client.services import Services


def services() -> Services:
    return current_app.extensions["socialfee"]
