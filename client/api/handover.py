"""换机向导 (系统设置 → 换机向导): the old PC settles, backs up and prints the 交接单; the new
PC compares a 交接单 with its restored data and prints the receiving one.

Routes:
- ``GET /handover`` the page;
- ``GET /api/handover`` -> ``{"ok", "folder", "entered", "open"}``;
- ``POST /api/handover/settle`` -> 202 job (result: SettleReport.to_dict());
- ``POST /api/handover/backup`` ``{"folder", "password"}`` -> 202 job: backup, full verification,
  the facts saved as ``<backup>.handover.json``; result ``{"id", "backup", "checks", "facts", "json_path"}``;
- ``POST /api/handover/print`` ``{"id"}`` -> the old PC's 交接单 saved beside the backup, opened;
- ``POST /api/handover/compare`` (multipart ``file``: a .handover.json or 交接单 PDF) -> 202 job;
  result ``{"id", "old", "new", "comparison"}``;
- ``POST /api/handover/receipt`` ``{"id"}`` -> the new PC's 交接单 in ``<data>/handover/``, opened.

The page never sends a path to read or write beyond the folder it chose: ``print`` and
``receipt`` take the id a job of this process handed out.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from client import logs
from client.api.context import services
from client.api.payment import _launch
from client.backup import archive, service
from client.backup.common import inspect_manifest
from client.core import audit, handover, handover_pdf, journal
from client.core.handover_settle import settle
from client.errors import NotFoundError, ValidationError
from client.sync.payment import PaymentService

bp = Blueprint("handover", __name__)
DB_MEMBER = "socialfee.sqlite3"
MAX_KEPT = 20

# What jobs of this process made, by id: (facts, where the PDF goes, the other side's facts).
_made: dict[str, tuple[handover.Facts, Path, handover.Facts | None, handover.Comparison | None]] = {}
_lock = threading.Lock()
# Why each entry stayed open at the last settle, for the sheet: (unit, created at, summary) -> reason.
_reasons: dict[tuple[str, str, str], str] = {}


def _keep(facts: handover.Facts, pdf: Path, old: handover.Facts | None = None,
          comparison: handover.Comparison | None = None) -> str:
    key = uuid.uuid4().hex
    with _lock:
        _made[key] = (facts, pdf, old, comparison)
        while len(_made) > MAX_KEPT:
            _made.pop(next(iter(_made)))
    return key


def _kept(body: dict[str, Any]) -> tuple[handover.Facts, Path, handover.Facts | None, handover.Comparison | None]:
    with _lock:
        found = _made.get(str(body.get("id") or ""))
    if found is None:
        raise NotFoundError("交接信息已过期（程序重新启动过），请重新执行上一步", field="id")
    return found


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("请求内容格式不正确")
    return body


@bp.get("/handover")
def page() -> str:
    return render_template("handover.html", active="settings")


@bp.get("/api/handover")
def overview() -> ResponseReturnValue:
    svc = services()
    view = svc.session.view()
    entered = view.unit.name if view.state == "entered" and view.unit else None
    return jsonify({
        "ok": True,
        "folder": str(service.backup_folder(svc.home, svc.settings)),
        "entered": entered,
        "offline": view.offline,
        "open": sum(journal.count_open(svc.store).values()),
    })


@bp.post("/api/handover/settle")
def settle_start() -> ResponseReturnValue:
    svc = services()
    payments = PaymentService(svc.session)

    def run(ctx: Any) -> dict[str, Any]:
        report = settle(svc.store, svc.session, payments.resolve, ctx.progress)
        with _lock:
            _reasons.clear()
            _reasons.update({(e.unit_id, e.created_at, e.summary): e.reason for e in report.still_open})
        left = f"，{len(report.still_open)} 笔未办结" if report.still_open else "，全部办结"
        audit.record(svc.store, "换机：办结申报", f"{len(report.settled)} 笔状态有变化{left}")
        return report.to_dict()

    job = svc.jobs.start("handover_settle", "换机：办结未完成的申报", run)
    return jsonify({"ok": True, "job": job.to_dict()}), 202


def _backup_facts(path: Path, password: str | None) -> handover.BackupFacts:
    info, manifest = inspect_manifest(path, password)
    files = (manifest or {}).get("files") or {}
    database = files.get(DB_MEMBER) or {}
    return handover.backup_facts(path, info.created_at, str(database.get("sha256") or ""))


@bp.post("/api/handover/backup")
def backup_start() -> ResponseReturnValue:
    svc = services()
    body = _body()
    password = str(body.get("password") or "") or None
    if password:
        logs.register_secret(password)
    chosen = str(body.get("folder") or "").strip()
    folder = Path(chosen).expanduser() if chosen else service.backup_folder(svc.home, svc.settings)
    if chosen and not folder.is_absolute():
        raise ValidationError("请填写完整的文件夹路径，例如 D:\\备份", field="folder")
    if folder.exists() and not folder.is_dir():
        raise ValidationError(f"「{folder}」不是文件夹", field="folder")

    def run(ctx: Any) -> dict[str, Any]:
        info = service.create_backup(svc.home, folder, password=password, reason="换机备份", store=svc.store,
                                     progress=lambda d, t, m: ctx.progress(0, 3, m))
        path = Path(info.path)
        ctx.progress(1, 3, "正在校验备份（解压并检查数据库）…")
        checked = service.verify_backup(path, svc.home, password)
        ctx.progress(2, 3, "正在计算备份文件的校验值…")
        facts = handover.collect(svc.store, handover.OLD, _backup_facts(path, password), data_dir=str(svc.home))
        with _lock:
            facts = handover.with_reasons(facts, _reasons)
        saved = handover.save_json(facts, handover.json_path(path))
        audit.record(svc.store, "换机备份", f"{path}；SHA-256 {facts.backup.sha256 if facts.backup else ''}")
        key = _keep(facts, path.with_name(path.name + ".交接单.pdf"))
        return {"id": key, "backup": info.to_dict(), "checks": list(checked.checks), "facts": facts.to_dict(),
                "json_path": str(saved)}

    job = svc.jobs.start("handover_backup", "换机：备份并校验", run)
    return jsonify({"ok": True, "job": job.to_dict()}), 202


def _print(facts: handover.Facts, pdf: Path, old: handover.Facts | None,
           comparison: handover.Comparison | None) -> ResponseReturnValue:
    data = handover_pdf.render(facts, comparison, old=old)
    try:
        pdf.parent.mkdir(parents=True, exist_ok=True)
        partial = pdf.with_name(f".{pdf.name}.partial")
        partial.write_bytes(data)
        partial.replace(pdf)
    except OSError as exc:
        raise archive.space_error(exc, pdf.parent) from exc
    audit.record(services().store, "打印换机交接单", str(pdf))
    try:
        _launch(pdf, "open")
    except OSError as exc:
        return jsonify({"ok": True, "opened": False, "pdf_path": str(pdf),
                        "message": f"未能调用系统的 PDF 阅读器（{exc.strerror or exc}），交接单已保存在：{pdf}"})
    return jsonify({"ok": True, "opened": True, "pdf_path": str(pdf),
                    "message": f"交接单已保存并用系统的 PDF 阅读器打开：{pdf}"})


@bp.post("/api/handover/print")
def print_old() -> ResponseReturnValue:
    facts, pdf, _old, _cmp = _kept(_body())
    return _print(facts, pdf, None, None)


def _received_sha(folder: Path, backup: handover.BackupFacts) -> str | None:
    """SHA-256 of the handed-over backup as this PC's backup folder holds it: the file of that
    name, or one of the same size (the upload renames a name already taken); None: not there."""
    named = folder / backup.name
    candidates = [named] if Path(backup.name).name == backup.name and named.is_file() else []
    if folder.is_dir():
        candidates += [p for p in sorted(folder.glob(f"*{archive.SUFFIX}"))
                       if p != named and p.is_file() and p.stat().st_size == backup.size]
    named_sha = None
    for path in candidates:
        found = archive.sha256_file(path)
        if found == backup.sha256:
            return found
        if path == named:
            named_sha = found
    return named_sha  # the named file's own checksum shows as 不一致; no such file: 没有找到


@bp.post("/api/handover/compare")
def compare_start() -> ResponseReturnValue:
    svc = services()
    file = request.files.get("file")
    if file is None or not file.filename:
        raise ValidationError("请选择旧电脑上的交接文件（.handover.json）或交接单 PDF", field="file")
    raw = file.stream.read(handover.MAX_BYTES + 1)
    old = handover.parse(raw)
    if old.side != handover.OLD:
        raise ValidationError("这是新电脑打印的交接单，请选择旧电脑上生成的交接文件", field="file")
    folder = service.backup_folder(svc.home, svc.settings)

    def run(ctx: Any) -> dict[str, Any]:
        ctx.progress(0, 2, "正在读取本机数据…")
        new = handover.collect(svc.store, handover.NEW, data_dir=str(svc.home))
        ctx.progress(1, 2, "正在计算备份文件的校验值…")
        received = _received_sha(folder, old.backup) if old.backup else None
        comparison = handover.compare(old, new, received)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        key = _keep(new, svc.home / "handover" / f"换机交接单-新电脑-{stamp}.pdf", old, comparison)
        verdict = "全部一致" if comparison.all_same else f"{comparison.different} 项不一致"
        audit.record(svc.store, "换机核对", verdict)
        return {"id": key, "old": old.to_dict(), "new": new.to_dict(), "comparison": comparison.to_dict()}

    job = svc.jobs.start("handover_compare", "换机：与原电脑核对", run)
    return jsonify({"ok": True, "job": job.to_dict()}), 202


@bp.post("/api/handover/receipt")
def print_new() -> ResponseReturnValue:
    facts, pdf, old, comparison = _kept(_body())
    if old is None:
        raise NotFoundError("请先选择旧电脑的交接文件进行核对", field="id")
    return _print(facts, pdf, old, comparison)
