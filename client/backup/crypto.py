"""Password encryption of a backup's payload: scrypt for the key, AES-256-GCM in chunks.

The payload is cut into chunks of ``CHUNK`` bytes, each sealed on its own (so a 200 MB
backup never sits in memory whole). The nonce of chunk *i* is the file's random 7-byte
prefix, *i* as 4 bytes and a last-chunk flag byte (the STREAM construction): chunks
cannot be reordered, dropped or cut off at the end without the tag check failing. The
clear header of the file is the associated data of every chunk, so it cannot be edited.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from client.errors import AuthError, ValidationError

CHUNK = 1 << 20
TAG = 16
# scrypt: about 32 MiB and a tenth of a second per attempt on an office PC.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
# What a reader accepts: the parameters this client writes, give or take one step of n.
# A file is hostile until checked: without a bound, n/r/p from the header would let it
# burn minutes of CPU or gigabytes of memory before the password is even compared.
ACCEPTED_N = (1 << 14, 1 << 15, 1 << 16)
ACCEPTED_R, ACCEPTED_P = (8,), (1,)


class DamagedBackup(ValidationError):
    code = "backup_damaged"


@dataclass(frozen=True)
class KeyParams:
    salt: bytes
    nonce_prefix: bytes
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    @classmethod
    def new(cls) -> KeyParams:
        return cls(secrets.token_bytes(16), secrets.token_bytes(7))

    def to_dict(self, key: bytes) -> dict[str, Any]:
        return {
            "cipher": "AES-256-GCM",
            "chunk": CHUNK,
            "kdf": "scrypt",
            "salt": self.salt.hex(),
            "n": self.n,
            "r": self.r,
            "p": self.p,
            "nonce_prefix": self.nonce_prefix.hex(),
            "key_check": key_check(key),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyParams:
        try:
            if data["cipher"] != "AES-256-GCM" or data["kdf"] != "scrypt" or data["chunk"] != CHUNK:
                raise ValueError(data)
            params = cls(
                bytes.fromhex(data["salt"]),
                bytes.fromhex(data["nonce_prefix"]),
                *(_plain_int(data[k]) for k in ("n", "r", "p")),
            )
            if len(params.salt) != 16 or len(params.nonce_prefix) != 7:
                raise ValueError(data)
        except (KeyError, ValueError, TypeError) as exc:
            raise DamagedBackup("备份文件的加密参数无法识别：文件已损坏或不是 socialfee 的备份。") from exc
        if params.n not in ACCEPTED_N or params.r not in ACCEPTED_R or params.p not in ACCEPTED_P:
            raise DamagedBackup(
                f"备份文件的密钥参数（scrypt n={params.n}, r={params.r}, p={params.p}）超出本程序"
                f"接受的范围，已拒绝：文件已损坏或不是 socialfee 创建的备份。",
                code="backup_kdf",
            )
        return params


def _plain_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(value)
    return value


def derive_key(password: str, params: KeyParams) -> bytes:
    if not password:
        raise ValidationError("请输入备份密码", field="password")
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=params.salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=256 * 1024 * 1024,
        dklen=32,
    )


def key_check(key: bytes) -> str:
    # Tells a wrong password apart from a damaged file without decrypting anything.
    return hmac.new(key, b"socialfee-backup-key-check", hashlib.sha256).hexdigest()[:32]


def check_key(key: bytes, encryption: dict[str, Any]) -> None:
    if not hmac.compare_digest(key_check(key), str(encryption.get("key_check", ""))):
        raise AuthError("备份密码不正确。请输入创建该备份时设置的密码。", code="backup_bad_password")


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class EncryptingWriter:
    """A write-only file object that seals what it is given, chunk by chunk, into ``out``."""

    def __init__(self, out: BinaryIO, key: bytes, params: KeyParams, aad: bytes) -> None:
        self._out, self._aead, self._prefix, self._aad = out, AESGCM(key), params.nonce_prefix, aad
        self._buf = bytearray()
        self._index = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        self._buf += data
        # Keep at least one byte back: the last chunk is only known at close().
        while len(self._buf) > CHUNK:
            self._seal(bytes(self._buf[:CHUNK]), last=False)
            del self._buf[:CHUNK]
        return len(data)

    def _seal(self, chunk: bytes, *, last: bool) -> None:
        self._out.write(self._aead.encrypt(_nonce(self._prefix, self._index, last), chunk, self._aad))
        self._index += 1

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._seal(bytes(self._buf), last=True)
        self._buf.clear()


class DecryptingReader:
    """A read-only file object over the sealed chunks of ``src``."""

    def __init__(self, src: BinaryIO, key: bytes, params: KeyParams, aad: bytes) -> None:
        self._src, self._aead, self._prefix, self._aad = src, AESGCM(key), params.nonce_prefix, aad
        self._index = 0
        self._plain = b""
        self._pos = 0
        self._next = src.read(CHUNK + TAG)
        self._done = False

    def readable(self) -> bool:
        return True

    def _open_next(self) -> None:
        sealed = self._next
        self._next = self._src.read(CHUNK + TAG)
        last = not self._next
        try:
            self._plain = self._aead.decrypt(_nonce(self._prefix, self._index, last), sealed, self._aad)
        except InvalidTag as exc:
            raise DamagedBackup(
                "备份文件已损坏或不完整（加密数据校验失败）。请换一份备份。"
            ) from exc
        self._pos = 0
        self._index += 1
        self._done = last

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = size if size >= 0 else 1 << 62
        while wanted > 0:
            if self._pos >= len(self._plain):
                if self._done:
                    break
                self._open_next()
                continue
            part = self._plain[self._pos : self._pos + wanted]
            self._pos += len(part)
            wanted -= len(part)
            parts.append(part)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def fsync(fh: BinaryIO) -> None:
    fh.flush()
    os.fsync(fh.fileno())
