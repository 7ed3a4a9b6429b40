"""The backup file: one file, written whole or not at all (see docs/backup.md).

Layout::

    b"SFBACKUP"  | u32 header length | header JSON | SHA-256 of the header JSON | payload

The payload is a zstd stream of a tar stream whose first member is ``manifest.json``
and whose other members are ``data/<path in the data directory>``; with a password the
zstd stream is sealed in AES-256-GCM chunks (client/backup/crypto.py). The manifest names
the SHA-256 and size of every data member; readers check all of them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import struct
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from client.backup import contents, crypto
from client.backup.crypto import DamagedBackup, KeyParams
from client.backup.tarstream import TarReader
from client.errors import AuthError, StoreError

MAGIC = b"SFBACKUP"
FORMAT = 1
SUFFIX = ".sfbak"
# Level 1: on the client's data as fast as level 3 is not, and no larger.
ZSTD_LEVEL = 1
# zstd's own workers for the database frame: the reading, hashing and compressing of a
# 200 MB file overlap on a second core (same output size, one frame all the same).
ZSTD_THREADS = 2
BUF = 1 << 20
MAX_HEADER = 1 << 16

Progress = Callable[[int, str], None]  # (bytes done, message); may raise JobCancelled


@dataclass(frozen=True)
class Header:
    raw: bytes  # magic..header hash: the associated data of every encrypted chunk
    data: dict[str, Any]

    @property
    def encrypted(self) -> bool:
        return bool(self.data.get("encryption"))


def space_error(exc: OSError, where: Path) -> StoreError:
    """An OSError while writing, in words an administrator can act on."""
    if exc.errno in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", -1)):
        return StoreError(
            f"写入 {where} 时空间不足（磁盘已满或超出文件大小限制）。请清理空间或换一个位置后重试；"
            f"现有数据没有被修改。",
            code="no_space",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreError(
            f"没有权限写入 {where}。请换一个有写入权限的位置后重试；现有数据没有被修改。",
            code="no_permission",
        )
    return StoreError(f"写入 {where} 失败（{exc.strerror or exc}）。现有数据没有被修改。", code="write_failed")


def _header_bytes(data: dict[str, Any]) -> bytes:
    body = json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return MAGIC + struct.pack(">I", len(body)) + body + hashlib.sha256(body).digest()


def read_header(fh: BinaryIO, path: Path) -> Header:
    not_ours = DamagedBackup(f"{path.name} 不是 socialfee 的备份文件，或文件已损坏。", code="not_a_backup")
    if fh.read(len(MAGIC)) != MAGIC:
        raise not_ours
    size_raw = fh.read(4)
    if len(size_raw) != 4:
        raise not_ours
    (size,) = struct.unpack(">I", size_raw)
    if size > MAX_HEADER:
        raise not_ours
    body = fh.read(size)
    digest = fh.read(32)
    if len(body) != size or hashlib.sha256(body).digest() != digest:
        raise DamagedBackup(f"备份文件 {path.name} 的文件头已损坏。请换一份备份。")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise not_ours from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DamagedBackup(
            f"{path.name} 的备份格式（{data.get('format') if isinstance(data, dict) else '?'}）"
            f"不被当前版本支持。请安装新版本 socialfee 后再试。",
            code="backup_format",
        )
    return Header(MAGIC + size_raw + body + digest, data)


SPOOL_MEMORY = 64 * 2**20  # compressed database frame kept in memory while it is written


def _tar_header(name: str, size: int, mtime: float, mode: int = 0o644) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), mode & 0o7777
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")


def _pad(size: int) -> bytes:
    return bytes(-size % tarfile.BLOCKSIZE)


def _compress_last(
    source: Path, size: int, tar_offset: int, sink: BinaryIO, progress: Progress, message: str
) -> str:
    """The last member's data and the tar end as their own zstd frame, hashed meanwhile.

    The hash runs in a helper thread while this one compresses, and the file is read once
    (it used to be read once to hash it and once more to compress it).
    """
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True, threads=ZSTD_THREADS)
    digest = _Hasher()
    done, last = 0, 0.0
    try:
        with (
            open(source, "rb") as src,
            compressor.stream_writer(sink, closefd=False, write_size=BUF) as zfh,
        ):
            while chunk := src.read(BUF):
                digest.update(chunk)
                zfh.write(chunk)
                done += len(chunk)
                now = time.monotonic()
                if now - last > 0.1:  # may raise JobCancelled
                    last = now
                    progress(done, message)
            if done != size:  # a snapshot never changes; anything else is not a backup
                raise OSError(f"{source.name} changed while it was written ({done} != {size} bytes)")
            end = tar_offset + size + len(_pad(size)) + 2 * tarfile.BLOCKSIZE
            zfh.write(_pad(size) + bytes(2 * tarfile.BLOCKSIZE) + bytes(-end % tarfile.RECORDSIZE))
    finally:
        hexdigest = digest.hexdigest()
    progress(done, message)
    return hexdigest


def write(
    dest: Path,
    header: dict[str, Any],
    manifest: dict[str, Any],
    files: Iterable[tuple[str, Path]],
    *,
    password: str | None = None,
    progress: Progress = lambda done, message: None,
) -> dict[str, dict[str, Any]]:
    """Write a complete, fsynced backup at ``dest`` (the caller renames it into place).

    ``manifest`` gets its "files" here (returned too), from the very bytes written. The last
    member (the database) goes first into a zstd frame of its own, hashed as it is compressed;
    the file then holds the header, a frame with the manifest, the small members and the last
    member's tar header, and that frame. One zstd stream of two frames: every zstd reader,
    this client's included, reads it as one.
    """
    *small, (last_name, last_path) = list(files)
    header = dict(header, format=FORMAT, compression="zstd")
    key = None
    if password:
        params = KeyParams.new()
        key = crypto.derive_key(password, params)
        header["encryption"] = params.to_dict(key)
    else:
        header["encryption"] = None
    raw_header = _header_bytes(header)
    members: dict[str, dict[str, Any]] = {}
    head = bytearray()
    for name, source in small:  # settings and rules: small (contents.py bounds them)
        data = source.read_bytes()
        members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        head += _tar_header(f"data/{name}", len(data), source.stat().st_mtime) + data + _pad(len(data))
    stat = last_path.stat()
    last_head = _tar_header(f"data/{last_name}", stat.st_size, stat.st_mtime, stat.st_mode)
    now = time.time()

    def first_part() -> bytes:
        body = json.dumps(dict(manifest, files=members), ensure_ascii=False, indent=1).encode("utf-8")
        return _tar_header("manifest.json", len(body), now) + body + _pad(len(body)) + head + last_head

    # A placeholder as long as the hash: the tar offset of the last member's data is known
    # before it is hashed, and the manifest written after it has the same length.
    members[last_name] = {"sha256": "0" * 64, "size": stat.st_size}
    offset = len(first_part())
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, dir=dest.parent) as spool:
        members[last_name]["sha256"] = _compress_last(
            last_path, stat.st_size, offset, spool, progress, f"正在写入 {last_name}…"
        )
        first = first_part()
        assert len(first) == offset
        with open(dest, "xb") as out:
            out.write(raw_header)
            sink: Any = crypto.EncryptingWriter(out, key, params, raw_header) if key else out
            compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)
            sink.write(compressor.compress(first))
            spool.seek(0)
            while chunk := spool.read(BUF):
                sink.write(chunk)
            if key:
                sink.close()
            crypto.fsync(out)
    return members


class _Bounded:
    """The decompressed stream, cut off at ``limit`` bytes.

    Everything the tar reader takes (headers, PAX records, member data) comes through here,
    so a hostile stream cannot make the reader hold or write more than the bound allows.
    """

    def __init__(self, src: Any, limit: int, name: str) -> None:
        self._src, self.limit, self._name, self.done = src, limit, name, 0

    def read(self, size: int = -1) -> bytes:
        room = self.limit - self.done
        data = self._src.read(min(size, room + 1) if size >= 0 else room + 1)
        self.done += len(data)
        if self.done > self.limit:
            raise DamagedBackup(
                f"备份文件 {self._name} 解压后的内容超出清单声明的大小，已拒绝。请换一份备份。",
                code="backup_oversized",
            )
        return data


@contextmanager
def open_payload(
    path: Path, password: str | None
) -> Iterator[tuple[Header, TarReader, _Bounded]]:
    """The header and the member stream of a backup, after the password check."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below, after the errors are worded
    except FileNotFoundError as exc:
        raise DamagedBackup(f"找不到备份文件 {path}", code="backup_missing") from exc
    except OSError as exc:
        raise DamagedBackup(f"无法读取备份文件 {path}（{exc.strerror or exc}）") from exc
    with fh:
        header = read_header(fh, path)
        source: Any = fh
        if header.encrypted:
            if not password:
                raise AuthError("该备份已加密，请输入备份密码。", code="backup_needs_password")
            encryption = header.data["encryption"]
            if not isinstance(encryption, dict):
                raise DamagedBackup("备份文件的加密参数无法识别：文件已损坏或不是 socialfee 的备份。")
            params = KeyParams.from_dict(encryption)
            key = crypto.derive_key(password, params)
            crypto.check_key(key, encryption)
            source = crypto.DecryptingReader(fh, key, params, header.raw)
        reader = zstandard.ZstdDecompressor().stream_reader(source, read_size=BUF, closefd=False)
        # Until the manifest has declared the sizes, only the manifest may be read.
        bounded = _Bounded(reader, contents.MAX_MANIFEST + contents.TAR_OVERHEAD + BUF, path.name)
        try:
            yield header, TarReader(bounded, path.name), bounded
        except (zstandard.ZstdError, tarfile.TarError, EOFError, UnicodeError) as exc:
            raise DamagedBackup(
                f"备份文件 {path.name} 已损坏或不完整（{exc}）。请换一份备份。"
            ) from exc


def _read_all(tar: TarReader, size: int) -> bytes:
    parts = []
    while chunk := tar.read(size):
        parts.append(chunk)
    return b"".join(parts)


def _read_manifest(tar: TarReader, path: Path) -> dict[str, Any]:
    first = tar.next()
    if first is None or first.name != "manifest.json" or not first.isfile():
        raise DamagedBackup(f"备份文件 {path.name} 缺少清单（manifest.json），文件已损坏。")
    if first.size > contents.MAX_MANIFEST:
        raise DamagedBackup(
            f"备份文件 {path.name} 的清单大小为 {first.size} 字节，超过上限 "
            f"{contents.MAX_MANIFEST // contents.MIB} MB，已拒绝。请换一份备份。",
            code="backup_manifest",
        )
    try:
        manifest = json.loads(_read_all(tar, contents.MAX_MANIFEST))
    except (ValueError, RecursionError) as exc:
        raise DamagedBackup(f"备份文件 {path.name} 的清单已损坏。") from exc
    return contents.check_manifest(manifest, path.name)


def read_manifest(path: Path, password: str | None) -> tuple[Header, dict[str, Any]]:
    """Header and manifest only: decompresses no more than the first member."""
    with open_payload(path, password) as (header, tar, _bounded):
        return header, _read_manifest(tar, path)


class _Hasher:
    """SHA-256 in a helper thread (hashlib lets go of the GIL), beside writing the file.

    With ``out``, the helper also writes each chunk there after hashing it, so the caller's
    thread only decompresses (a restore's longest stage is then one decompression, not the
    decompression plus 200 MB of writes). A write error is raised by :meth:`hexdigest`.
    """

    def __init__(self, out: BinaryIO | None = None) -> None:
        self._digest = hashlib.sha256()
        self._out = out
        self._error: OSError | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._digest.update(chunk)
            if self._out is not None and self._error is None:
                try:
                    self._out.write(chunk)
                except OSError as exc:  # raised in the caller's thread by hexdigest
                    self._error = exc

    def update(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()


def _refuse(path: Path, member: tarfile.TarInfo, why: str) -> DamagedBackup:
    shown = repr(member.name)[1:-1][:120]
    return DamagedBackup(f"备份文件 {path.name} 含有不允许的内容（{shown}：{why}），已拒绝。",
                         code="backup_member")


def _check_member(
    path: Path, member: tarfile.TarInfo, expected: dict[str, dict[str, Any]], seen: set[str],
    count: int,
) -> str:
    """The data-directory path of ``member``, after every check that needs no byte of it."""
    rel = contents.member_path(member.name)
    if rel is None:
        raise _refuse(path, member, "备份只能包含数据库、设置和规则缓存")
    if not member.isfile():
        raise _refuse(path, member, "不是普通文件（链接、设备或文件夹）")
    if rel not in expected:
        raise _refuse(path, member, "不在清单中")
    if rel.casefold() in seen or count > contents.MAX_MEMBERS:
        raise _refuse(path, member, "重复出现")
    if member.size != expected[rel]["size"]:
        raise DamagedBackup(
            f"备份文件 {path.name} 中 {rel} 的大小（{member.size} 字节）与清单"
            f"（{expected[rel]['size']} 字节）不符：文件已损坏。请换一份备份。",
            code="backup_checksum",
        )
    return rel


def extract(
    path: Path,
    target: Path,
    password: str | None,
    *,
    progress: Progress = lambda done, message: None,
    on_manifest: Callable[[dict[str, Any]], None] = lambda manifest: None,
) -> tuple[Header, dict[str, Any]]:
    """Unpack every data member into ``target`` and prove each against the manifest.

    Sizes, names and counts are checked against the manifest and the bounds of
    client/backup/contents.py before a member is written; free disk space before the first.
    ``on_manifest`` sees the checked manifest before anything is written (and may refuse it):
    one pass over the file, one key derivation for an encrypted one.
    """
    done = 0
    seen: set[str] = set()
    with open_payload(path, password) as (header, tar, bounded):
        manifest = _read_manifest(tar, path)
        on_manifest(manifest)
        expected: dict[str, dict[str, Any]] = manifest["files"]
        need = sum(f["size"] for f in expected.values())
        if need + contents.DISK_MARGIN > contents.free_space(target):
            raise StoreError(
                f"{target} 所在磁盘空间不足：解压该备份需要约 {need // contents.MIB + 1} MB，"
                f"另需保留 {contents.DISK_MARGIN // contents.MIB} MB。请清理空间后重试；现有数据没有被修改。",
                code="no_space",
            )
        bounded.limit = bounded.done + contents.payload_bound(expected) + BUF
        # next(), not iteration: iterating a stream starts again from the manifest.
        while (member := tar.next()) is not None:
            rel = _check_member(path, member, expected, seen, len(seen) + 1)
            dest = target / rel
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                with open(dest, "xb") as out:
                    digest = _Hasher(out)  # hashes and writes; this thread decompresses
                    try:
                        while chunk := tar.read(BUF):
                            digest.update(chunk)
                            done += len(chunk)
                            progress(done, f"正在解压并校验 {rel}…")
                    finally:
                        hexdigest = digest.hexdigest()  # every chunk written (or its error)
                    crypto.fsync(out)
            except OSError as exc:
                raise space_error(exc, target) from exc
            if hexdigest != expected[rel]["sha256"]:
                raise DamagedBackup(
                    f"备份文件 {path.name} 中的 {rel} 校验和不符：文件已损坏。请换一份备份。",
                    code="backup_checksum",
                )
            seen.add(rel.casefold())
        # What follows the tar's end block is padding. Read to the end of the stream: only
        # then has zstd checked the last frame's checksum (a flipped byte there is caught).
        while rest := bounded.read(BUF):
            if rest.strip(b"\0"):
                raise DamagedBackup(f"备份文件 {path.name} 的结尾含有多余的数据：文件已损坏。请换一份备份。")
    missing = sorted(r for r in expected if r.casefold() not in seen)
    if missing:
        raise DamagedBackup(
            f"备份文件 {path.name} 不完整，缺少：{'、'.join(missing)}。请换一份备份。",
            code="backup_incomplete",
        )
    return header, manifest


def read_member(path: Path, password: str | None, rel: str) -> bytes | None:
    """One small member (settings.json), checked against the manifest; None if absent.

    New backups put settings before the database, so this reads little of the stream.
    """
    with open_payload(path, password) as (_header, tar, bounded):
        manifest = _read_manifest(tar, path)
        expected = manifest["files"]
        if rel not in expected:
            return None
        bounded.limit = bounded.done + contents.payload_bound(expected) + BUF
        seen: set[str] = set()
        while (member := tar.next()) is not None:
            name = _check_member(path, member, expected, seen, len(seen) + 1)
            seen.add(name.casefold())
            if name != rel:
                continue
            data = _read_all(tar, BUF)
            if hashlib.sha256(data).hexdigest() != expected[rel]["sha256"]:
                raise DamagedBackup(
                    f"备份文件 {path.name} 中的 {rel} 校验和不符：文件已损坏。请换一份备份。",
                    code="backup_checksum",
                )
            return data
    raise DamagedBackup(f"备份文件 {path.name} 不完整，缺少：{rel}。请换一份备份。",
                        code="backup_incomplete")


def sha256_file(path: Path, progress: Callable[[int], None] = lambda n: None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(BUF):
            digest.update(chunk)
            progress(len(chunk))
    return digest.hexdigest()


def fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync there; rename is durable
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
