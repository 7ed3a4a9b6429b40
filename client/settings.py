"""Settings, declared once with their help text, and the data-directory resolver.

Values live in ``settings.json`` in the data directory (so a backup carries them). Secrets
never live here: they go to the OS keyring.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from client.errors import StoreError, ValidationError

HOME_ENV = "SOCIALFEE_HOME"
SETTINGS_FILE = "settings.json"


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    default: Any
    help: str
    kind: type = str
    minimum: int | None = None
    maximum: int | None = None
    # Which panel of the settings page shows it: "general", "backup" (备份恢复) or "network"
    # (网络管理); "developer" ones are on no page (the demo and tests set them), nor is
    # "database" (`socialfee db use`).
    group: str = "general"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "taxside_url",
        "税务端地址",
        "",
        "仅供演示和测试：本次运行改用的业务服务器地址。正式版本的地址由安装包固定（client/release.json）。",
        group="developer",
    ),
    # 网络管理 (client/core/network.py): the proxy; its password is in the OS keyring or,
    # without one, in memory for this run only, never here.
    Setting("proxy_mode", "代理类型", "none", "不使用代理、HTTP、HTTPS 或 SOCKS5。", group="network"),
    Setting("proxy_host", "代理服务器地址", "", "代理服务器的主机名或 IP 地址。", group="network"),
    Setting("proxy_port", "代理端口", 0, "代理服务器的端口，例如 8080 或 1080。", int, 0, 65535, group="network"),
    Setting("proxy_user", "代理用户名", "", "代理需要认证时的用户名，不需要时留空。", group="network"),
    # Where the data live (client/core/db_location.py): "" is the SQLite file in the data
    # directory; a PostgreSQL URL WITHOUT its password (that is in the OS keyring). Set by
    # `socialfee db use` after a connection test, never through the settings form.
    Setting(
        "database_url",
        "团队数据库地址",
        "",
        "团队模式：几台电脑共用的 PostgreSQL 数据库地址（不含密码），留空表示本机数据目录中的 SQLite 数据库。"
        "用命令 socialfee db use 设置。",
        group="database",
    ),
    # 关于 > 升级 (client/core/upgrade.py); shown on the about page, not the settings form.
    Setting(
        "upgrade_mode",
        "升级方式",
        "auto",
        "auto：启动时发现新版本自动下载、备份并升级；notify：只提示有新版本；manual：只在「关于」页面手动升级"
        "（单位电脑禁止程序自行更新时选用）。",
        group="upgrade",
    ),
    Setting(
        "http_timeout_seconds",
        "网络超时（秒）",
        30,
        "等待税务端应答的最长时间。网络较慢时可以调大。",
        int,
        5,
        300,
    ),
    Setting(
        "enrollment_sync_minutes",
        "自动更新参保信息（分钟）",
        30,
        "登录后每隔多少分钟自动增量更新一次职工参保信息，避免长时间不退出时漏掉人员变动；"
        "填 0 表示只在登录时更新。修改后下次启动生效。",
        int,
        0,
        1440,
    ),
    Setting(
        "outbox_minutes",
        "自动发送与获取反馈（分钟）",
        2,
        "登录后每隔多少分钟自动发送待提交（如离线时提交）的申报，并获取待反馈申报的结果；"
        "填 0 表示只在提交和进入申报记录时进行。修改后下次启动生效。",
        int,
        0,
        1440,
    ),
    Setting(
        "page_size",
        "每页行数",
        50,
        "列表每页显示的行数。",
        int,
        10,
        500,
    ),
    Setting(
        "print_offset_right_mm",
        "打印右平移（毫米）",
        "0",
        "打印银行端缴款凭证时整页向右移动的距离，用于对齐预先印好的凭证纸；负数表示向左移动。"
        "范围 -50 到 50，最多一位小数。",
        Decimal,
        -50,
        50,
    ),
    Setting(
        "print_offset_down_mm",
        "打印下平移（毫米）",
        "0",
        "打印银行端缴款凭证时整页向下移动的距离；负数表示向上移动。范围 -50 到 50，最多一位小数。",
        Decimal,
        -50,
        50,
    ),
    Setting(
        "backup_on_exit",
        "退出时自动备份",
        1,
        "选中后，每次退出程序时自动备份一次（自上次备份以来数据没有变化时跳过）。",
        int,
        0,
        1,
        group="backup",
    ),
    Setting(
        "backup_interval_hours",
        "定时备份间隔（小时）",
        8,
        "程序运行期间每隔这么多小时检查一次，数据有变化就自动备份；填 0 表示不定时备份。",
        int,
        0,
        168,
        group="backup",
    ),
    Setting(
        "backup_folder",
        "自动备份位置",
        "",
        "自动备份和恢复前安全备份存放的文件夹，留空表示数据目录下的 backups 文件夹。"
        "建议定期把备份复制到其他磁盘或移动存储设备上。",
        group="backup",
    ),
    Setting(
        "backup_keep",
        "自动备份最多保留份数",
        10,
        "自动备份超过这个数量时删除最旧的（手动备份不会被自动删除）。",
        int,
        1,
        1000,
        group="backup",
    ),
    Setting(
        "backup_thin",
        "按时间稀疏保留",
        0,
        "选中后，自动备份保留最近一天的全部，之后每天、每周、每月各保留一份，再受最多保留份数限制。",
        int,
        0,
        1,
        group="backup",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: explicit argument, then SOCIALFEE_HOME, then the platform default."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(HOME_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir("socialfee", appauthor=False)).resolve()


# Files and folders the process creates are its owner's alone (0600 / 0700): the data
# directory holds ID numbers, wages, unencrypted backups and logs.
PRIVATE_UMASK = 0o077


def make_private() -> None:
    """Set the process umask so every file created from now on is owner-only (POSIX).

    On Windows the data directory sits in the user's own profile, which is already private.
    """
    if os.name == "posix":
        os.umask(PRIVATE_UMASK)


def tighten_tree(root: Path) -> int:
    """Take group and other bits off ``root`` and everything under it; returns the count.

    For data directories made by earlier versions (0755 / 0644). Symlinks are neither
    followed nor changed; the owner's own bits stay as they are.
    """
    if os.name != "posix":
        return 0
    changed = _drop_group_other(root)
    pending = [root]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif not entry.is_file(follow_symlinks=False):
                    continue  # symlinks, sockets, pipes
            except OSError:
                continue
            changed += _drop_group_other(Path(entry.path))
    return changed


def _drop_group_other(path: Path) -> int:
    # Opened with O_NOFOLLOW and changed through the descriptor: a symlink swapped in
    # meanwhile is refused, never followed.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return 0
    try:
        mode = os.fstat(fd).st_mode
        if not mode & 0o077:
            return 0
        os.fchmod(fd, stat.S_IMODE(mode) & 0o700)
        return 1
    except OSError:
        return 0  # not ours to change (another owner); the folder's 0700 still shields it
    finally:
        os.close(fd)


def prepare_home(home: Path) -> Path:
    """Create the data directory owner-only and prove it is writable, with a clear message
    if not."""
    make_private()
    try:
        home.mkdir(parents=True, exist_ok=True)
        tighten_tree(home)
        probe = home / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise StoreError(
            f"数据目录不可用：{home}（{exc.strerror or exc}）。请检查该目录的写入权限，"
            f"或用 --home 指定其他目录。",
            code="home_not_writable",
        ) from exc
    return home


def coerce(setting: Setting, raw: Any) -> Any:
    """A value from a form or file as the setting's type, or a ValidationError naming it."""
    if setting.kind is int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValidationError(f"「{setting.label}」必须是整数", field=setting.name) from None
        if setting.minimum is not None and value < setting.minimum:
            raise ValidationError(
                f"「{setting.label}」不能小于 {setting.minimum}", field=setting.name
            )
        if setting.maximum is not None and value > setting.maximum:
            raise ValidationError(
                f"「{setting.label}」不能大于 {setting.maximum}", field=setting.name
            )
        return value
    if setting.kind is Decimal:
        return _millimetres(setting, raw)
    text = str(raw).strip()
    if setting.name == "proxy_mode" and text not in PROXY_MODES:
        raise ValidationError(f"「{setting.label}」只能是 {'、'.join(PROXY_MODES)} 之一", field=setting.name)
    if setting.name == "upgrade_mode" and text not in UPGRADE_MODES:
        raise ValidationError(f"「{setting.label}」只能是 {'、'.join(UPGRADE_MODES)} 之一", field=setting.name)
    if setting.name == "proxy_host" and text and not _is_host(text):
        raise ValidationError(f"「{setting.label}」只能填写主机名或 IP 地址（不含 http:// 和端口）：{text}",
                              field=setting.name)
    if setting.name == "database_url" and text:
        from client.core import db_location

        bare, password = db_location.parse(text)
        if password is not None:
            raise ValidationError(f"「{setting.label}」不能包含密码：密码保存在系统密钥环中", field=setting.name)
        return bare
    if setting.name == "taxside_url" and text:
        _check_url(text, ("http", "https"), setting)
    return text


def _millimetres(setting: Setting, raw: Any) -> str:
    # Kept as canonical text ("-2.5"): settings.json and restores write plain JSON, and
    # readers take Decimal(text). A JSON 2.5 goes through str(), never Decimal(float).
    if isinstance(raw, bool):
        raise ValidationError(f"「{setting.label}」必须是数字，例如 2.5", field=setting.name)
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValidationError(f"「{setting.label}」必须是数字，例如 2.5", field=setting.name) from None
    if not value.is_finite():
        raise ValidationError(f"「{setting.label}」必须是数字，例如 2.5", field=setting.name)
    if setting.minimum is not None and value < setting.minimum:
        raise ValidationError(f"「{setting.label}」不能小于 {setting.minimum}", field=setting.name)
    if setting.maximum is not None and value > setting.maximum:
        raise ValidationError(f"「{setting.label}」不能大于 {setting.maximum}", field=setting.name)
    if value != value.quantize(Decimal("0.1")):
        raise ValidationError(f"「{setting.label}」最多一位小数", field=setting.name)
    text = f"{value.quantize(Decimal('0.1')):f}".removesuffix(".0")
    return "0" if text == "-0" else text


PROXY_MODES = ("none", "http", "https", "socks5")
UPGRADE_MODES = ("auto", "notify", "manual")
# A host name or an IPv4 address (no scheme, user, port or path), or an IPv6 address.
_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def _is_host(text: str) -> bool:
    if _HOST_RE.fullmatch(text):
        return True
    try:
        return ipaddress.ip_address(text.strip("[]")).version == 6
    except ValueError:
        return False


def _check_url(text: str, schemes: tuple[str, ...], setting: Setting) -> None:
    try:
        parts = urlsplit(text)
        _port = parts.port  # a bad port raises ValueError
    except ValueError:
        raise ValidationError(f"「{setting.label}」的端口不正确：{text}", field=setting.name) from None
    if parts.scheme.lower() not in schemes:
        raise ValidationError(
            f"「{setting.label}」只支持 {' / '.join(s + '://' for s in schemes)} 开头的地址", field=setting.name
        )
    if not parts.hostname:
        raise ValidationError(f"「{setting.label}」缺少主机名：{text}", field=setting.name)


class Settings:
    """The settings file of one data directory; writes are atomic (temp file + rename)."""

    def __init__(self, home: Path) -> None:
        self.path = home / SETTINGS_FILE
        self._lock = threading.Lock()
        self._values = self._read()

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # A damaged settings file must not stop the client: defaults apply, and the
            # next save rewrites it.
            return {}
        return data if isinstance(data, dict) else {}

    def reload(self) -> None:
        """Read the file again (a restore has replaced it)."""
        with self._lock:
            self._values = self._read()

    def get(self, name: str) -> Any:
        setting = _BY_NAME[name]
        if name not in self._values:
            return setting.default
        try:
            return coerce(setting, self._values[name])
        except ValidationError:
            return setting.default

    def all(self) -> dict[str, Any]:
        return {s.name: self.get(s.name) for s in SETTINGS}

    def stored(self) -> dict[str, Any]:
        """The file's values as they are, keys of earlier versions included (migrations)."""
        with self._lock:
            return dict(self._values)

    def replace_stored(self, values: dict[str, Any]) -> None:
        """Write exactly ``values`` (a migration dropping a key of an earlier version)."""
        self._write(values)

    def reset(self) -> dict[str, Any]:
        """Every setting back to its default."""
        return self._write({})

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = [k for k in changes if k not in _BY_NAME]
        if unknown:
            raise ValidationError(f"未知的设置项：{'、'.join(unknown)}", field=unknown[0])
        coerced = {k: coerce(_BY_NAME[k], v) for k, v in changes.items()}
        return self._write(dict(self._values) | coerced)

    def _write(self, values: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            tmp = self.path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(values, ensure_ascii=False, indent=2), encoding="utf-8")
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            self._values = values
        return self.all()
