"""Sealing a tenant's secrets: the master key, where it comes from, and AES-256-GCM.

The master key is 32 random bytes, written as base64: ``ORCA_SECRET_KEY`` when set,
else the file ``[secrets] key_file`` names, else ``$ORCA_HOME/secret.key`` (created
0600 with a new random key the first time a secret is stored). Each tenant seals with
its own key, derived from the master key by HKDF-SHA256 with the tenant in ``info``;
each write takes a fresh random 96-bit nonce; the associated data binds the tenant and
the secret's name, so a sealed value copied to another row or another tenant does not
open. Every row keeps the id of the master key that sealed it (a hash, not the key),
so a wrong master key is told apart from a damaged row.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets as _random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orca.errors import SecretKeyError

KEY_ENV = "ORCA_SECRET_KEY"
"""The environment variable holding the master key (base64 of 32 bytes); it wins over
every key file."""
KEY_FILE = "secret.key"
"""The default key file's name, in ``$ORCA_HOME``."""
KEY_BYTES = 32
NONCE_BYTES = 12
_SALT = b"orca-secrets-v1"
_NEW_KEY = 'python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"'
log = logging.getLogger("orca.store")


@dataclass(frozen=True, slots=True)
class MasterKey:
    """A master key and where it came from (``origin``: the variable or the file, for
    errors). Its bytes never appear in its repr."""

    material: bytes = field(repr=False)
    origin: str

    @property
    def key_id(self) -> str:
        """What rows keep of the key that sealed them: 16 hex digits of a hash of it."""
        return hashlib.sha256(b"orca-secret-key-id\0" + self.material).hexdigest()[:16]

    def _derive(self, purpose: str, tenant: str) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        info = f"{purpose}\n{len(tenant)}:{tenant}".encode()
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=_SALT, info=info)
        return hkdf.derive(self.material)

    def tenant_key(self, tenant: str) -> bytes:
        """The AES-256 key of ``tenant``'s secrets."""
        return self._derive("seal", tenant)

    def fingerprint(self, tenant: str, value: str) -> str:
        """A short mark of ``value`` that tells two values apart without revealing
        either: 12 hex digits of an HMAC under a key of ``tenant``'s own."""
        mark = hmac.new(self._derive("fingerprint", tenant), value.encode(), "sha256")
        return mark.hexdigest()[:12]


def parse_key(text: str, origin: str) -> MasterKey:
    """The master key written as ``text`` (base64 of 32 bytes, surrounding whitespace
    ignored). The text is never quoted in an error.

    Raises:
        SecretKeyError: it is empty, not base64, or not 32 bytes (names ``origin``).
    """
    fix = f"write base64 of 32 random bytes there, e.g. the output of {_NEW_KEY}"
    stripped = text.strip()
    if not stripped:
        raise SecretKeyError(f"the master key in {origin} is empty", key=origin, fix=fix)
    try:
        material = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        raise SecretKeyError(
            f"the master key in {origin} is not base64", key=origin, fix=fix
        ) from None
    if len(material) != KEY_BYTES:
        raise SecretKeyError(
            f"the master key in {origin} is {len(material)} bytes; it must be {KEY_BYTES}",
            key=origin,
            fix=fix,
        )
    return MasterKey(material, origin)


def new_key_text() -> str:
    """A new random master key, as base64 (what a key file or ``ORCA_SECRET_KEY`` holds)."""
    return base64.b64encode(_random.token_bytes(KEY_BYTES)).decode()


def write_key_file(path: Path) -> bool:
    """Create ``path`` (mode 0600) holding a new random master key, unless it exists.
    The file appears whole or not at all (written aside, then linked into place), so a
    process racing this one reads a whole key. Returns whether this call created it.

    Raises:
        SecretKeyError: the folder cannot be created or written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        aside = path.with_name(f".{path.name}.{os.getpid()}.{_random.token_hex(4)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(new_key_text() + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.link(aside, path)
            return True
        except FileExistsError:
            return False
        finally:
            aside.unlink(missing_ok=True)
    except OSError as exc:
        raise SecretKeyError(
            f"cannot create the master key file {path} ({exc.strerror})",
            key=KEY_FILE,
            fix=f"make {path.parent} writable, or set {KEY_ENV}",
        ) from None


class KeySource:
    """Where the master key comes from: ``ORCA_SECRET_KEY`` if set, else ``key_file``
    if given (it must exist), else ``$ORCA_HOME/secret.key`` (made on first write).
    The key is read once, on first use. Safe to share between threads.

    Args:
        key_file: ``[secrets] key_file`` (``Config.secret_key``).
        env: the environment to read (default: the process's).
        home: the folder of the default key file (default: ``$ORCA_HOME``).
    """

    def __init__(
        self,
        key_file: str | Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        home: str | Path | None = None,
    ) -> None:
        self.key_file = Path(key_file).expanduser() if key_file is not None else None
        self._env = env
        self._home = Path(home) if home is not None else None
        self._key: MasterKey | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<KeySource {self.describe()}>"

    def _default_file(self) -> Path:
        if self._home is not None:
            return self._home / KEY_FILE
        from orca.store import orca_home

        return orca_home() / KEY_FILE

    def describe(self) -> str:
        """Where the key is read from, in words (never the key)."""
        env = os.environ if self._env is None else self._env
        if KEY_ENV in env:
            return KEY_ENV
        return str(self.key_file or self._default_file())

    def key(self, *, create: bool = False) -> MasterKey:
        """The master key; ``create``: make the default key file when it is missing.

        Raises:
            SecretKeyError: the key is missing, unreadable or malformed (names where it
                was looked for and the fix).
        """
        with self._lock:
            if self._key is None:
                self._key = self._load(create)
            return self._key

    def _load(self, create: bool) -> MasterKey:
        env = os.environ if self._env is None else self._env
        if KEY_ENV in env:
            return parse_key(env[KEY_ENV], KEY_ENV)
        path = self.key_file or self._default_file()
        if self.key_file is None and create and write_key_file(path):
            log.info("made a new master key for stored secrets at %s (mode 0600)", path)
        try:
            text = path.read_text(encoding="ascii")
            shared = path.stat().st_mode & 0o077
        except FileNotFoundError:
            raise SecretKeyError(
                f"no master key for stored secrets: {KEY_ENV} is not set and {path} does not exist",
                key=KEY_ENV,
                fix=f"set {KEY_ENV} or restore {path} (the key that sealed the secrets); "
                f"for a new key: {_NEW_KEY} > {path}; chmod 600 {path}",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            detail = getattr(exc, "strerror", None) or "not ASCII text"
            raise SecretKeyError(
                f"cannot read the master key file {path} ({detail})",
                key=str(path),
                fix=f"make {path} readable by this user, holding base64 of 32 bytes",
            ) from None
        if shared:
            log.warning("the master key file %s is readable by others: chmod 600 it", path)
        return parse_key(text, str(path))


@dataclass(frozen=True, slots=True)
class Sealed:
    """A sealed value as a row keeps it: the nonce, the ciphertext with its GCM tag, the
    id of the master key, and the value's fingerprint."""

    nonce: bytes
    ciphertext: bytes
    key_id: str
    fingerprint: str

    @staticmethod
    def of(row: Sequence[Any]) -> Sealed:
        """From a row's ``nonce, ciphertext, key_id, fingerprint``."""
        nonce, ciphertext, key_id, fingerprint = row
        return Sealed(bytes(nonce), bytes(ciphertext), str(key_id), str(fingerprint))


def _associated(tenant: str, name: str) -> bytes:
    # length-prefixed, so no (tenant, name) pair reads as another
    return f"orca-secret/v1\n{len(tenant)}:{tenant}\n{name}".encode()


def seal(key: MasterKey, tenant: str, name: str, value: str) -> Sealed:
    """``value`` sealed for secret ``name`` of ``tenant`` under ``key`` (a fresh nonce)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = _random.token_bytes(NONCE_BYTES)
    box = AESGCM(key.tenant_key(tenant))
    ciphertext = box.encrypt(nonce, value.encode(), _associated(tenant, name))
    return Sealed(nonce, ciphertext, key.key_id, key.fingerprint(tenant, value))


def unseal(key: MasterKey, tenant: str, name: str, sealed: Sealed, *, where: str) -> str:
    """The value ``sealed`` holds.

    Raises:
        SecretKeyError: it was sealed under another master key (names both ids).
        CorruptDatabaseError: it does not open under the key that sealed it: the row was
            altered, or copied from another row or tenant.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from orca.errors import CorruptDatabaseError

    if not hmac.compare_digest(sealed.key_id, key.key_id):
        raise SecretKeyError(
            f"secret {name!r} was sealed under master key {sealed.key_id}, but the key in "
            f"use ({key.origin}) is {key.key_id}",
            key=KEY_ENV,
            fix=f"give Orca the key that sealed it ({KEY_ENV} or [secrets] key_file), or "
            f"store the secret again: orca secret set {name}",
        )
    try:
        box = AESGCM(key.tenant_key(tenant))
        plain = box.decrypt(sealed.nonce, sealed.ciphertext, _associated(tenant, name))
        return plain.decode()
    except (InvalidTag, ValueError, UnicodeDecodeError):
        raise CorruptDatabaseError(
            where,
            f"stored secret {name!r} does not open under the master key that sealed it: "
            "its row was altered, or copied from another secret or tenant",
            f"store it again: orca secret set {name}",
        ) from None


def reseal(
    old: MasterKey, new: MasterKey, tenant: str, name: str, sealed: Sealed, *, where: str
) -> Sealed | None:
    """``sealed`` sealed again under ``new`` (None: it already is), for a key rotation.

    Raises:
        SecretKeyError: it is under neither key.
        CorruptDatabaseError: it does not open under ``old``.
    """
    if sealed.key_id == new.key_id:
        return None
    if sealed.key_id != old.key_id:
        raise SecretKeyError(
            f"secret {name!r} is sealed under master key {sealed.key_id}, neither the old "
            f"key ({old.key_id}) nor the new one ({new.key_id}); nothing was changed",
            key=KEY_ENV,
            fix="make the key that sealed it the current one, or store the secret again: "
            f"orca secret set {name}",
        )
    return seal(new, tenant, name, unseal(old, tenant, name, sealed, where=where))
