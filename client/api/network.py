"""网络管理 on the settings page (manual 3.2.1): the proxy (测试, then 保存) and the
business server (read-only, 测试). Thin views over client/core/network.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from client import logs
from client.api.context import services
from client.core import audit, network
from client.errors import ValidationError
from client.settings import Settings

bp = Blueprint("network", __name__, url_prefix="/api/network")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("请求内容格式不正确")
    return body


def _password(body: dict[str, Any]) -> str:
    password = body.get("proxy_password") or ""
    if not isinstance(password, str):
        raise ValidationError("代理密码格式不正确", field="proxy_password")
    if password:
        logs.register_secret(password)
    return password


def state(settings: Settings) -> dict[str, Any]:
    """What the panel shows: never the password, only where it is kept."""
    config = network.proxy_config(settings)
    server = network.business_server(settings)
    return {
        "proxy": {"proxy_mode": config.mode, "proxy_host": config.host,
                  "proxy_port": config.port or "", "proxy_user": config.user,
                  "password_kept": network.password_kept(config) if config.user else "",
                  "shown": config.shown()},
        "keyring_problem": network.keyring_problem(),
        "modes": [{"value": k, "label": v} for k, v in network.MODE_LABELS.items()],
        "server": {"url": server.url, "source": server.source, "source_label": server.source_label,
                   "channel": server.channel},
    }


@bp.get("")
def get_state() -> ResponseReturnValue:
    return jsonify({"ok": True, **state(services().settings)})


@bp.post("/proxy/test")
def test_proxy() -> ResponseReturnValue:
    """测试 the proxy as typed (not yet saved); an empty password means the kept one."""
    svc = services()
    body = _body()
    config = network.parse_form(body)
    password = _password(body) or (network.recall_password(config) if config.user else None)
    if config.enabled and config.user and not password:
        raise ValidationError("请输入代理密码", field="proxy_password")
    result = network.probe(network.business_server(svc.settings).url, config, password,
                           float(svc.settings.get("http_timeout_seconds")))
    return jsonify({"ok": True, "result": result.to_dict()})


@bp.post("/proxy")
def save_proxy() -> ResponseReturnValue:
    """保存: tested again here, so only a proxy that works is saved."""
    svc = services()
    body = _body()
    saved = network.save_proxy(svc.settings, network.parse_form(body), _password(body) or None)
    audit.record(svc.store, "修改网络设置", f"代理服务器：{saved.config.shown()}")
    return jsonify({"ok": True, "result": saved.probe.to_dict() if saved.probe else None,
                    **state(svc.settings)})


@bp.post("/server/test")
def test_server() -> ResponseReturnValue:
    """业务服务器 测试: latency and protocol version through the saved route."""
    result = network.probe_saved(services().settings)
    return jsonify({"ok": True, "result": result.to_dict()})
