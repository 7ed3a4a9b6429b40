"""Every backup is hostile until checked (issue 11): names, member types, sizes, counts,
manifest, key parameters. Each refusal is a Chinese message and the data stay as they were.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path, PureWindowsPath

import pytest

from client.backup import archive, contents, service
from client.backup.crypto import DamagedBackup
from client.errors import SocialFeeError
from client.services import Services
from tests.backup.crafted import Member, files_of, pack, rebuilt, unpack
from tests.backup.helpers import add_unit, unit_names

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def good(services: Services, tmp_path: Path) -> Path:
    """A genuine backup of unit 甲, then unit 乙 added and a manual backup in backups/."""
    add_unit(services.home, "甲公司", "U1")
    made = service.create_backup(services.home, tmp_path / "saved")
    add_unit(services.home, "乙公司", "U2")
    service.create_backup(services.home, service.default_folder(services.home))
    return Path(made.path)


def top_level(home: Path) -> dict[str, int]:
    """What the data directory holds (the live database's own size moves with WAL)."""
    skip = {"logs", "socialfee.sqlite3", "socialfee.sqlite3-wal", "socialfee.sqlite3-shm"}
    return {
        p.relative_to(home).as_posix(): p.stat().st_size
        for p in home.rglob("*") if p.relative_to(home).parts[0] not in skip
    }


def refused(services: Services, path: Path, code: str | None = None) -> SocialFeeError:
    """Restore and verify both refuse ``path``; nothing in the data directory changed."""
    home = services.home
    before, units = top_level(home), unit_names(home)
    with pytest.raises(SocialFeeError) as caught:
        service.restore(services, path)
    assert CHINESE.search(caught.value.message), caught.value.message
    if code:
        assert caught.value.code == code, caught.value.message
    assert unit_names(home) == units
    assert top_level(home) == before  # no safety backup either: nothing passed
    assert not (home / service.STAGING).exists()
    with pytest.raises(SocialFeeError) as again:
        service.verify_backup(path, home)
    assert CHINESE.search(again.value.message)
    assert not list(home.glob(f"{service.TMP_PREFIX}*"))
    return caught.value


BAD_NAMES = [
    "../x",
    "/abs",
    "..\\x",
    "rules\\..\\..\\x",
    "C:\\x",
    "C:x",
    "\\\\server\\share\\x",
    "//server/share/x",
    "con",
    "rules/con",
    "rules/NUL.json",
    "rules/com1.txt",
    "rules/a\x00b",
    "rules/a\x07b",
    "rules/a\nb",
    "rules/x.",
    "rules/sub/x.json",
    "backups/socialfee-backup-20260101-000000-000.sfbak",
    "logs/socialfee.log",
    "restore-pause.json",
    "backup-state.json",
    "socialfee.sqlite3-wal",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_outside_the_fixed_list_are_refused(
    services: Services, good: Path, tmp_path: Path, name: str
) -> None:
    manifest, members = unpack(good)
    members.append(Member(f"data/{name}", b"hostile"))
    path = rebuilt(good, tmp_path / "bad.sfbak", members=members)
    refused(services, path, "backup_member")


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_are_checked_by_posix_and_windows_rules(name: str) -> None:
    assert not contents.allowed(name)
    assert contents.member_path(f"data/{name}") is None
    # The reason it matters: joined by Windows rules these leave the data directory.
    joined = PureWindowsPath("D:/socialfee") / name
    if joined.drive != "D:" or ".." in joined.parts:
        assert not contents.allowed(name)


def test_the_fixed_list_accepts_what_the_client_writes() -> None:
    for name in ("socialfee.sqlite3", "settings.json", "rules/110000.json", "rules/pack_v2.json"):
        assert contents.allowed(name), name


@pytest.mark.parametrize(
    "extra",
    [
        [Member("data/rules", b"a file"), Member("data/rules/x.json", b"{}")],
        [Member("data/rules/x.json", b"{}"), Member("data/rules/x.json/y", b"{}")],
        [Member("data/rules/a.json", b"1"), Member("data/rules/A.json", b"2")],
        [Member("data/rules/a.json", b"1"), Member("data/rules/a.json", b"1")],
    ],
    ids=["file-then-folder", "folder-under-file", "case-twins", "twice"],
)
def test_a_member_that_is_both_file_and_folder_or_twice_is_refused(
    services: Services, good: Path, tmp_path: Path, extra: list[Member]
) -> None:
    manifest, members = unpack(good)
    path = rebuilt(good, tmp_path / "bad.sfbak", members=members + extra)
    error = refused(services, path)
    assert isinstance(error, DamagedBackup)


@pytest.mark.parametrize(
    ("kind", "linkname"),
    [(tarfile.SYMTYPE, "/etc/passwd"), (tarfile.LNKTYPE, "data/socialfee.sqlite3"),
     (tarfile.CHRTYPE, ""), (tarfile.FIFOTYPE, ""), (tarfile.DIRTYPE, "")],
)
def test_links_devices_and_folders_are_refused(
    services: Services, good: Path, tmp_path: Path, kind: bytes, linkname: str
) -> None:
    manifest, members = unpack(good)
    members.append(Member("data/rules/x.json", kind=kind, linkname=linkname))
    manifest["files"] = files_of(members) | {
        "rules/x.json": {"sha256": hashlib.sha256(b"").hexdigest(), "size": 0}
    }
    path = pack(tmp_path / "bad.sfbak", manifest, members)
    refused(services, path, "backup_member")


def test_a_member_larger_than_declared_is_refused_before_a_byte_is_written(
    services: Services, good: Path, tmp_path: Path
) -> None:
    # 4 MB of zeros compress to a few KB: the manifest says 100 bytes.
    manifest, members = unpack(good)
    members.append(Member("data/rules/big.json", b"\0" * (4 << 20)))
    manifest["files"] = files_of(members)
    manifest["files"]["rules/big.json"]["size"] = 100
    path = pack(tmp_path / "bad.sfbak", manifest, members)
    assert path.stat().st_size < 200_000
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(DamagedBackup):
        archive.extract(path, target, None)
    assert not (target / "rules" / "big.json").exists()
    refused(services, path)


@pytest.mark.parametrize("size", [contents.MAX_DB + 1, 1 << 50])
def test_huge_declared_sizes_are_refused_from_the_manifest(
    services: Services, good: Path, tmp_path: Path, size: int
) -> None:
    # The tar header claims the same size; no data follows. Nothing may be read or written.
    manifest, members = unpack(good)
    db = next(m for m in members if m.name == "data/socialfee.sqlite3")
    manifest["files"] = files_of(members)
    manifest["files"]["socialfee.sqlite3"]["size"] = size
    db.declared = size
    path = pack(tmp_path / "bad.sfbak", manifest, [m for m in members if m is not db] + [db])
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(SocialFeeError):
        archive.extract(path, target, None)
    assert list(target.iterdir()) == []
    refused(services, path)


def test_a_database_larger_than_the_free_disk_is_refused_before_writing(
    services: Services, good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contents, "free_space", lambda folder: contents.DISK_MARGIN + 1000)
    error = refused(services, good, "no_space")
    assert "空间不足" in error.message


def test_too_many_members_are_refused(services: Services, good: Path, tmp_path: Path) -> None:
    manifest, members = unpack(good)
    members += [Member(f"data/rules/r{i}.json", b"{}") for i in range(contents.MAX_RULE_FILES + 5)]
    path = rebuilt(good, tmp_path / "bad.sfbak", members=members)
    refused(services, path, "backup_manifest")


def test_a_huge_manifest_is_refused_without_reading_it(services: Services, good: Path, tmp_path: Path) -> None:
    path = rebuilt(good, tmp_path / "bad.sfbak", padding="x" * (contents.MAX_MANIFEST + 10))
    with pytest.raises(DamagedBackup, match="清单"):
        service.inspect(path)
    (listed,) = [b for b in service.list_backups(tmp_path) if b.name == path.name]
    assert listed.problem and "清单" in listed.problem
    refused(services, path, "backup_manifest")


@pytest.mark.parametrize(
    "change",
    [{"schema_version": "5"}, {"units": [{"name": 1}]}, {"units": "x"}, {"tables": {"unit": "many"}},
     {"journal": {"max_id": "x"}}, {"files": []}, {"created_at": ["x"]}],
)
def test_a_manifest_of_the_wrong_shape_is_a_message_not_a_traceback(
    services: Services, good: Path, tmp_path: Path, change: dict
) -> None:
    manifest, members = unpack(good)
    manifest["files"] = files_of(members)
    manifest.update(change)
    path = pack(tmp_path / "bad.sfbak", manifest, members)
    with pytest.raises(DamagedBackup):
        service.inspect(path)
    (listed,) = [b for b in service.list_backups(tmp_path) if b.name == path.name]
    assert listed.problem
    refused(services, path)


def _encryption(n: object, r: object, p: object) -> dict:
    return {"cipher": "AES-256-GCM", "chunk": 1 << 20, "kdf": "scrypt", "salt": "00" * 16,
            "n": n, "r": r, "p": p, "nonce_prefix": "00" * 7, "key_check": "0" * 32}


@pytest.mark.parametrize(
    ("n", "r", "p"),
    [(1 << 20, 8, 1), (1 << 15, 8, 4), (1 << 15, 1, 1), (1 << 15, 64, 1), (3, 8, 1), (1 << 15, 8, True)],
)
def test_hostile_scrypt_parameters_are_refused_before_deriving(
    services: Services, tmp_path: Path, n: object, r: object, p: object
) -> None:
    path = pack(tmp_path / "kdf.sfbak", b"", [], encryption=_encryption(n, r, p), payload=b"x" * 64)
    assert service.inspect(path).encrypted  # listing needs no key
    with pytest.raises(DamagedBackup) as caught:
        service.verify_backup(path, services.home, "任意密码")
    assert CHINESE.search(caught.value.message)
    with pytest.raises(DamagedBackup):
        service.restore(services, path, "任意密码")


def test_a_backup_holding_the_backups_folder_leaves_every_local_backup(
    services: Services, good: Path, tmp_path: Path
) -> None:
    local = {p.name for p in service.default_folder(services.home).iterdir()}
    manifest, members = unpack(good)
    members.append(Member("data/backups/fake.sfbak", b"not a backup"))
    path = rebuilt(good, tmp_path / "bad.sfbak", members=members)
    refused(services, path, "backup_member")
    assert {p.name for p in service.default_folder(services.home).iterdir()} == local


def _pax_member(name: str, data: bytes, records: bytes) -> bytes:
    """A member whose PAX record set is ``records`` (raw), then its ustar header and data."""
    import tarfile as tf

    pax = tf.TarInfo("PaxHeader")
    pax.type, pax.size = tf.XHDTYPE, len(records)
    head = pax.tobuf(tf.USTAR_FORMAT) + records + b"\0" * (-len(records) % 512)
    info = tf.TarInfo(name)
    info.size = len(data)
    return head + info.tobuf(tf.USTAR_FORMAT) + data + b"\0" * (-len(data) % 512)


def _record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n += 1
    return str(n).encode() + body


def _with_raw_tail(good: Path, dest: Path, tail: bytes, extra_files: dict | None = None) -> Path:
    import json

    import zstandard

    from tests.backup.crafted import BLOCK

    manifest, members = unpack(good)
    manifest["files"] = files_of(members) | (extra_files or {})
    raw = json.dumps(manifest).encode()
    stream = Member("manifest.json", raw).tar_bytes() + b"".join(m.tar_bytes() for m in members)
    stream += tail + b"\0" * (2 * BLOCK)
    return pack(dest, b"", [], payload=zstandard.ZstdCompressor().compress(stream))


@pytest.mark.parametrize(
    "records",
    [_record("path", "data/../../x"), _record("path", "data/rules/..\\..\\x"), b"99 path=x\n",
     b"garbage", _record("size", "-5")],
    ids=["pax-dotdot", "pax-backslash", "pax-bad-length", "pax-garbage", "pax-negative-size"],
)
def test_pax_records_cannot_smuggle_a_name_or_size(
    services: Services, good: Path, tmp_path: Path, records: bytes
) -> None:
    tail = _pax_member("data/rules/ok.json", b"{}", records)
    digest = {"rules/ok.json": {"sha256": hashlib.sha256(b"{}").hexdigest(), "size": 2}}
    refused(services, _with_raw_tail(good, tmp_path / "pax.sfbak", tail, digest))


@pytest.mark.parametrize("tail", [b"\x01" * 512, b"data/rules/x.json".ljust(512, b"\0")],
                         ids=["garbage-block", "bad-checksum"])
def test_a_broken_tar_header_is_refused(services: Services, good: Path, tmp_path: Path, tail: bytes) -> None:
    refused(services, _with_raw_tail(good, tmp_path / "hdr.sfbak", tail), "backup_damaged")


def test_a_truncated_stream_is_refused(services: Services, good: Path, tmp_path: Path) -> None:
    import zstandard

    manifest, members = unpack(good)
    manifest["files"] = files_of(members)
    import json

    raw = json.dumps(manifest).encode()
    stream = Member("manifest.json", raw).tar_bytes() + b"".join(m.tar_bytes() for m in members)
    cut = zstandard.ZstdCompressor().compress(stream[: len(stream) - 3000])
    refused(services, pack(tmp_path / "cut.sfbak", b"", [], payload=cut))
