"""Hand-built backup files for the hostile-input tests: any member name, type or declared
size, any manifest, any header. Built from the file format (docs/backup.md), not from the
client's writer, so a test can say exactly what an attacker would put in the file."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from client.backup import archive

BLOCK = 512


@dataclass
class Member:
    name: str  # the full tar name, e.g. "data/socialfee.sqlite3"
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    declared: int | None = None  # a size in the tar header other than len(data)
    linkname: str = ""

    def tar_bytes(self) -> bytes:
        info = tarfile.TarInfo(self.name)
        info.type, info.linkname, info.mtime = self.kind, self.linkname, 1_700_000_000
        info.size = self.declared if self.declared is not None else len(self.data)
        if self.kind != tarfile.REGTYPE:
            info.size = 0
        head = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        body = self.data if self.kind == tarfile.REGTYPE else b""
        pad = (-len(body)) % BLOCK
        return head + body + b"\0" * pad


def unpack(path: Path) -> tuple[dict[str, Any], list[Member]]:
    """The manifest and data members of an unencrypted backup written by the client."""
    with open(path, "rb") as fh:
        archive.read_header(fh, path)
        payload = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress(fh.read())
    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        members = [
            Member(m.name, tar.extractfile(m).read())
            for m in tar.getmembers() if m.name != "manifest.json"
        ]
    return manifest, members


def files_of(members: list[Member]) -> dict[str, dict[str, Any]]:
    """The manifest's "files" for these members, as an honest writer would list them."""
    return {
        m.name[len("data/"):]: {"sha256": hashlib.sha256(m.data).hexdigest(), "size": len(m.data)}
        for m in members if m.name.startswith("data/") and m.kind == tarfile.REGTYPE
    }


def pack(
    path: Path,
    manifest: dict[str, Any] | bytes,
    members: list[Member],
    *,
    encryption: dict[str, Any] | None = None,
    payload: bytes | None = None,
) -> Path:
    """Write a backup file; ``manifest`` as a dict (serialised) or raw bytes."""
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest, ensure_ascii=False).encode()
    stream = Member("manifest.json", raw).tar_bytes() + b"".join(m.tar_bytes() for m in members)
    stream += b"\0" * (2 * BLOCK)
    header = {
        "format": 1, "created_at": "2026-05-01T17:30:00.000", "app_version": "0.1.0",
        "kind": "manual", "reason": "手工构造", "compression": "zstd", "encryption": encryption,
    }
    body = payload if payload is not None else zstandard.ZstdCompressor().compress(stream)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(archive._header_bytes(header) + body)
    return path


def rebuilt(source: Path, dest: Path, *, members: list[Member] | None = None,
            db: bytes | None = None, **manifest_changes: Any) -> Path:
    """A copy of a real backup with other members, another database or manifest fields;
    the manifest's file list is recomputed, so only what the test changed is wrong."""
    manifest, original = unpack(source)
    chosen = members if members is not None else original
    if db is not None:
        chosen = [Member(m.name, db) if m.name == "data/socialfee.sqlite3" else m for m in chosen]
    manifest["files"] = files_of(chosen)
    manifest.update(manifest_changes)
    return pack(dest, manifest, chosen)


def db_bytes(source: Path, sql: str = "", user_version: int | None = None) -> bytes:
    """The database of a real backup changed by ``sql`` and/or a new user_version."""
    manifest, members = unpack(source)
    data = next(m.data for m in members if m.name == "data/socialfee.sqlite3")
    work = source.with_name("work.sqlite3")
    work.write_bytes(data)
    conn = sqlite3.connect(work)
    if sql:
        conn.executescript(sql)
    if user_version is not None:
        conn.execute(f"PRAGMA user_version = {user_version}")
    conn.commit()
    conn.close()
    out = work.read_bytes()
    work.unlink()
    return out
