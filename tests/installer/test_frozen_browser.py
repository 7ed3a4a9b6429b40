"""The frozen program in a real browser: its pages load their own scripts and styles from
the folder (CSP and all), and 关于 says what was installed where."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from installer import build as freezer
from tests.e2e.conftest import PageProblems, browser, screenshot  # noqa: F401 (fixture)
from tests.installer.conftest import Running, start

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_about_page_of_the_frozen_program(
    frozen: freezer.Build, browser: object, tmp_path: Path, launched: list[Running]  # noqa: F811
) -> None:
    running = start(frozen.executable, "--home", str(tmp_path / "home"), "run", "--headless")
    launched.append(running)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 820})
    try:
        page = context.new_page()
        problems = PageProblems(page)
        styles: list[str] = []
        # Static URLs carry their content hash (?v=...): match on the path.
        page.on("response", lambda r: urlsplit(r.url).path.endswith(".css") and styles.append(f"{r.status}"))
        page.goto(running.url)
        page.goto(running.url.split("/?", 1)[0] + "/about")
        facts = page.get_by_test_id("about-facts")
        facts.wait_for()
        assert facts.locator('[data-field="program_dir"]').inner_text() == str(frozen.folder.resolve())
        assert facts.locator('[data-field="data_dir"]').inner_text() == str((tmp_path / "home").resolve())
        assert "源码运行" not in facts.inner_text()
        assert styles and set(styles) <= {"200", "304"}, styles  # 304: cached from the first page
        page.wait_for_load_state("networkidle")
        screenshot(page, "frozen-about")
        assert problems.unexpected() == []
    finally:
        context.close()
    code, err = running.stop()
    assert code == 0, err
