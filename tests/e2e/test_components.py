"""The shared components that no shipped page uses yet (file upload), on a test-only page
that renders them inside the real base layout and behind the real security gates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Blueprint, jsonify, render_template_string, request

from client.api.server import UIServer
from client.errors import ValidationError
from tests.e2e.conftest import PageProblems, screenshot

pytestmark = pytest.mark.e2e

PAGE = """{% extends "base.html" %}
{% block title %}组件{% endblock %}{% block heading %}组件{% endblock %}
{% block content %}<section class="panel"><div id="upload"></div><p id="result"></p></section>
<script type="module" nonce="{{ csp_nonce() }}">
import { FileUpload } from "/static/js/upload.js";
new FileUpload(document.getElementById("upload"), {
  endpoint: "/_test/upload", accept: ".csv,.xlsx", label: "导入文件",
  fields: () => ({ kind: "daily" }),
  onUploaded: (body) => { document.getElementById("result").textContent = `已收到 ${body.name} ${body.size} 字节 ${body.kind}`; },
  onError: (err) => { document.getElementById("result").textContent = `第${err.row}行 ${err.field}：${err.message}`; },
});
</script>{% endblock %}"""


def component_blueprint() -> Blueprint:
    bp = Blueprint("component_test", __name__)

    @bp.get("/_test/components")
    def page() -> str:
        return render_template_string(PAGE, active="")

    @bp.post("/_test/upload")
    def upload():
        file = request.files["file"]
        data = file.read()
        if b"bad" in data:
            raise ValidationError("证件号码校验位错误", field="证件号码", row=3)
        return jsonify({"ok": True, "name": file.filename, "size": len(data), "kind": request.form["kind"]})

    return bp


@pytest.fixture
def component_server(services) -> Iterator[UIServer]:
    server = UIServer(services)
    server.app.register_blueprint(component_blueprint())
    server.start()
    yield server
    server.stop()


def test_file_upload_sends_the_file_with_csrf_and_shows_row_errors(browser, component_server, tmp_path) -> None:
    context = browser.new_context()
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(component_server.launch_url)
    page.goto(component_server.base_url + "/_test/components")
    good = tmp_path / "职工.csv"
    good.write_text("姓名,证件号码\n张三,11010519491231002X\n", encoding="utf-8")
    page.set_input_files("#upload input[type=file]", str(good))
    page.wait_for_function("document.getElementById('result').textContent.startsWith('已收到')")
    assert page.inner_text("#result") == f"已收到 职工.csv {good.stat().st_size} 字节 daily"
    bad = tmp_path / "bad.csv"
    bad.write_text("bad row", encoding="utf-8")
    page.set_input_files("#upload input[type=file]", str(bad))
    page.wait_for_function("document.getElementById('result').textContent.startsWith('第')")
    assert page.inner_text("#result") == "第3行 证件号码：证件号码校验位错误"
    screenshot(page, "component-upload")
    assert problems.unexpected(400) == []
    context.close()
