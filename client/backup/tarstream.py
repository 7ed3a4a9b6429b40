"""A strict reader of the tar stream inside a backup: only what client/backup/archive.py writes.

tarfile's stream mode copies every chunk through its own buffer (a fifth of a restore's
time on a 200 MB database) and understands far more than a backup may hold. This reader
takes ustar header blocks (parsed and checksummed by the public ``TarInfo.frombuf``) and
PAX records for them, hands member data straight from the decompressor, and refuses any
other construct with a Chinese message. Member types and names are judged by the caller
against client/backup/contents.py.
"""

from __future__ import annotations

import tarfile
from typing import Any

from client.backup.crypto import DamagedBackup

BLOCK = tarfile.BLOCKSIZE
MAX_PAX = 64 * 1024
_ZERO = bytes(BLOCK)


def _padding(size: int) -> int:
    return -size % BLOCK


class TarReader:
    """Members one after another: :meth:`next`, then :meth:`read` its data."""

    def __init__(self, src: Any, name: str) -> None:
        self._src, self._name = src, name
        self._left = 0  # data bytes of the current member not yet read
        self._pad = 0

    def _damaged(self, why: str) -> DamagedBackup:
        return DamagedBackup(f"备份文件 {self._name} 已损坏或不完整（{why}）。请换一份备份。")

    def _exact(self, n: int) -> bytes:
        parts, got = [], 0
        while got < n:
            chunk = self._src.read(n - got)
            if not chunk:
                raise self._damaged("数据提前结束")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _skip(self, n: int) -> None:
        while n > 0:
            chunk = self._src.read(min(n, 1 << 20))
            if not chunk:
                raise self._damaged("数据提前结束")
            n -= len(chunk)

    def _pax(self, data: bytes) -> dict[str, str]:
        records: dict[str, str] = {}
        pos = 0
        while pos < len(data):
            space = data.find(b" ", pos, pos + 21)
            try:
                length = int(data[pos:space]) if space > pos else 0
                record = data[pos:pos + length]
                key, _, value = record[space - pos + 1 : -1].partition(b"=")
                if length <= 0 or not record.endswith(b"\n") or not _:
                    raise ValueError(record)
                records[key.decode("utf-8")] = value.decode("utf-8")
            except (ValueError, UnicodeError) as exc:
                raise self._damaged("扩展头无效") from exc
            pos += length
        return records

    def next(self) -> tarfile.TarInfo | None:
        """The next member's header (data not yet read), or None at the end of the archive."""
        self._skip(self._left + self._pad)
        self._left = self._pad = 0
        pax: dict[str, str] = {}
        while True:
            block = self._exact(BLOCK)
            if block == _ZERO:
                return None
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
            except (tarfile.HeaderError, UnicodeError) as exc:
                raise self._damaged(f"文件头无效：{exc}") from exc
            if info.type != tarfile.XHDTYPE:
                break
            if pax or not 0 <= info.size <= MAX_PAX:  # one PAX record set, small, per member
                raise self._damaged("扩展头无效")
            pax = self._pax(self._exact(info.size + _padding(info.size))[: info.size])
        if "path" in pax:
            info.name = pax["path"]
        if "size" in pax:
            try:
                info.size = int(pax["size"])
            except ValueError as exc:
                raise self._damaged("扩展头无效") from exc
        if info.size < 0:
            raise self._damaged("大小无效")
        if info.isfile():
            self._left, self._pad = info.size, _padding(info.size)
        return info

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of the current member's data; b"" once it is all read."""
        if self._left <= 0:
            return b""
        data = self._src.read(min(size, self._left))
        if not data:
            raise self._damaged("数据提前结束")
        self._left -= len(data)
        return data
