"""备份恢复 on the settings page: list, back up now, verify, restore, upload a chosen file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.utils import secure_filename

from client import logs
from client.api.context import services
from client.backup import archive, restore_team, service
from client.core import audit
from client.errors import NotFoundError, ValidationError
from client.settings import SETTINGS

bp = Blueprint("backup", __name__, url_prefix="/api/backup")

BACKUP_SETTINGS = [s.name for s in SETTINGS if s.group == "backup"]


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("请求内容格式不正确")
    return body


def _password(body: dict[str, Any]) -> str | None:
    password = str(body.get("password") or "")
    if password:
        logs.register_secret(password)
    return password or None


def _folder() -> Path:
    svc = services()
    return service.backup_folder(svc.home, svc.settings)


def _named(body: dict[str, Any]) -> Path:
    """A backup of the list, by file name: the page never sends paths to read."""
    name = str(body.get("name") or "")
    path = _folder() / name
    if not name or Path(name).name != name or not path.is_file():
        raise NotFoundError(f"找不到备份文件「{name}」，请刷新列表后重试", field="name")
    return path


@bp.get("")
def overview() -> ResponseReturnValue:
    svc = services()
    folder = _folder()
    return jsonify({
        "ok": True,
        "folder": str(folder),
        "backups": [b.to_dict() for b in service.list_backups(folder)],
        "settings": {name: svc.settings.get(name) for name in BACKUP_SETTINGS},
        "keyring_problem": service.keyring_problem(),
        "password_remembered": service.remembered_password() is not None,
        "paused": restore_team.review_pause(svc),
        # Team mode: the backup is a logical one of the team database (the page says so).
        "team": svc.store.team,
        "location": svc.store.location,
    })


@bp.post("/create")
def create() -> ResponseReturnValue:
    svc = services()
    body = _body()
    password = _password(body)
    chosen = str(body.get("folder") or "").strip()
    folder = Path(chosen).expanduser() if chosen else _folder()
    if chosen and not folder.is_absolute():
        raise ValidationError("请填写完整的文件夹路径，例如 D:\\备份", field="folder")
    if body.get("remember"):
        if not password:
            raise ValidationError("要记住密码，请先输入密码", field="password")
        service.remember_password(password)

    def run(ctx: Any) -> dict[str, Any]:
        info = service.create_backup(svc.home, folder, password=password, progress=ctx.progress,
                                     store=svc.store)
        audit.record(svc.store, "手动备份", info.path)
        return info.to_dict()

    job = svc.jobs.start("backup", "备份数据", run)
    return jsonify({"ok": True, "job": job.to_dict()}), 202


@bp.post("/verify")
def verify() -> ResponseReturnValue:
    svc = services()
    body = _body()
    path, password = _named(body), _password(body)
    job = svc.jobs.start(
        "backup_verify", f"校验备份 {path.name}",
        lambda ctx: service.verify_backup(path, svc.home, password, ctx.progress).to_dict(),
    )
    return jsonify({"ok": True, "job": job.to_dict()}), 202


@bp.post("/preview")
def preview() -> ResponseReturnValue:
    body = _body()
    result = service.restore_preview(services(), _named(body), _password(body))
    return jsonify({"ok": True, "preview": result.to_dict()})


@bp.post("/restore")
def restore() -> ResponseReturnValue:
    svc = services()
    body = _body()
    path, password = _named(body), _password(body)

    def run(ctx: Any) -> dict[str, Any]:
        return service.restore(svc, path, password, progress=ctx.progress, own_job=ctx.job_id).to_dict()

    job = svc.jobs.start("restore", f"从备份恢复 {path.name}", run)
    return jsonify({"ok": True, "job": job.to_dict()}), 202


@bp.post("/upload")
def upload() -> ResponseReturnValue:
    """A backup chosen from another place (USB disk, old PC) joins the list, then restores."""
    file = request.files.get("file")
    if file is None or not file.filename:
        raise ValidationError("请选择备份文件", field="file")
    name = secure_filename(Path(file.filename).name) or "uploaded"
    if not name.endswith(archive.SUFFIX):
        name += archive.SUFFIX
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / name, 1
    while target.exists():
        n += 1
        target = folder / f"{Path(name).stem}-{n}{archive.SUFFIX}"
    partial = folder / f".{target.name}.partial"
    try:
        file.save(partial)
        with open(partial, "rb") as fh:
            archive.read_header(fh, Path(file.filename))
        partial.replace(target)
    except OSError as exc:
        raise archive.space_error(exc, folder) from exc
    finally:
        partial.unlink(missing_ok=True)
    return jsonify({"ok": True, "backup": service.inspect(target).to_dict()})


@bp.post("/settings")
def save_settings() -> ResponseReturnValue:
    svc = services()
    changes = {k: v for k, v in _body().items() if k in BACKUP_SETTINGS}
    saved = svc.settings.update(changes)
    audit.record(svc.store, "修改备份设置", "、".join(sorted(changes)))
    return jsonify({"ok": True, "settings": {n: saved[n] for n in BACKUP_SETTINGS}})


@bp.post("/password/forget")
def forget_password() -> ResponseReturnValue:
    service.forget_password()
    return jsonify({"ok": True})


@bp.post("/pause/clear")
def clear_pause() -> ResponseReturnValue:
    svc = services()
    paused = restore_team.review_pause(svc) or {}
    seen = len(paused.get("journal_entries") or [])
    restore_team.clear_review(svc)  # in team mode every desk's sender goes on
    audit.record(
        svc.store, "恢复后核对完成",
        f"已查看备份之后的 {seen} 条申报记录；自动同步与发送已恢复" if seen else "自动同步与发送已恢复",
    )
    return jsonify({"ok": True})
