"""关于: version, release channel, program and data folders, database size, as served."""

from __future__ import annotations

import json

import httpx

from client import __version__
from client.core import formats, system
from client.core.network import RELEASE_FILE
from client.services import Services
from tests.conftest import REPO


def test_about_page_names_channel_program_and_data(
    browser_client: httpx.Client, services: Services
) -> None:
    channel = json.loads(RELEASE_FILE.read_text(encoding="utf-8"))["channel"]
    html = browser_client.get("/about").text
    assert f'data-field="version">{__version__}<' in html
    assert f'data-field="channel">{system.channel_label(channel)}<' in html
    # Run from the source tree here: said so, never passed off as an installed program.
    assert f'data-field="program_dir">{REPO}（源码运行，未安装）<' in html
    assert f'data-field="data_dir">{services.home}<' in html
    size = formats.size(services.store.size_bytes())
    assert f'data-field="database_size">{size}<' in html
    about = browser_client.get("/api/system/about").json()["about"]
    assert about["installed"] is False
    assert about["channel"] == system.channel_label(channel)


def test_channel_labels() -> None:
    assert system.channel_label("stable") == "正式版"
    assert system.channel_label("beta") == "测试版"
    assert system.channel_label("nightly-7") == "nightly-7"  # an unknown one as written
    assert system.channel_label("") == "未标明"
