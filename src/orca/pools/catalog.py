"""The model catalog: model files by sha256 digest, with their GGUF metadata, tags, a
lifecycle state and a trust level, and the check every use of one makes.

``Catalog`` reads and hashes the files; its records are kept by a ``CatalogRepository``
(``store.catalog`` of the default tenant's store: the catalog is the installation's).
Its calls block (hashing a model of gigabytes takes seconds): async code calls them in
a thread (``asyncio.to_thread``).

Trust: ``add`` hashes the file and records it ``unverified``; ``verify`` hashes it
again: a match makes it ``verified``, a mismatch or a missing file ``untrusted``, and
every use of an untrusted model fails with ``UntrustedArtifactError`` until a ``verify``
finds the recorded bytes again. ``usable`` is the check a use makes (a pool's start, a
reload): the policy (``strict``: only verified models that are ``active`` or
``canary``; ``permissive``: any model neither untrusted nor retired), then the file's
size and identity (device, inode, mtime, ctime) against the record, re-hashing the file
when any changed, so a file swapped under a catalogued name is caught before an engine
loads it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from orca.errors import (
    InvalidFieldError,
    ModelFileError,
    UnknownCatalogModelError,
    UntrustedArtifactError,
)
from orca.pools._gguf import open_model, read_gguf_file
from orca.store._catalog import (
    INITIAL_STATES,
    LIFECYCLE,
    TRANSITIONS,
    TRUST,
    CatalogModel,
    CatalogRepository,
    check_model_name,
    check_state,
    check_tags,
    model_id,
)

__all__ = [
    "LIFECYCLE",
    "TRANSITIONS",
    "TRUST",
    "TRUST_POLICIES",
    "Catalog",
    "CatalogModel",
    "TrustPolicy",
    "UntrustedArtifactError",
    "file_digest",
    "file_stamp",
]

TrustPolicy = Literal["strict", "permissive"]
TRUST_POLICIES: tuple[str, ...] = get_args(TrustPolicy)
CHUNK = 1 << 20
"""Files are hashed 1 MiB at a time."""
USABLE_STATES = ("active", "canary")
"""The states a strict policy lets a model be used in."""


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int, str]:
    """The file's ``sha256:<hex>``, size and stamp (``file_stamp``), read in 1 MiB
    chunks.

    Raises:
        ModelFileError: it cannot be opened, is not a regular file, or changed while it
            was read.
    """
    with open_model(path) as (f, _):
        return _hash(f.fileno(), str(path))


def file_stamp(info: os.stat_result) -> str:
    """A file's identity as the catalog records it: ``device:inode:size:mtime:ctime``
    (nanoseconds). Writing the file, replacing it, or setting its mtime back changes it
    (the ctime cannot be set back)."""
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"


def _hash(fd: int, where: str, before: os.stat_result | None = None) -> tuple[str, int, str]:
    """The open file's digest, size and stamp, refused when its stamp moved since
    ``before`` (default: now). At most its size (and one byte more) is read, so a special
    file posing as a regular one cannot stream forever."""
    before = before or os.fstat(fd)
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    left = before.st_size + 1
    while left > 0 and (chunk := os.read(fd, min(CHUNK, left))):
        digest.update(chunk)
        left -= len(chunk)
    after = os.fstat(fd)
    if left != 1 or file_stamp(before) != file_stamp(after):
        raise ModelFileError(
            f"{where} changed while it was hashed",
            path=where,
            fix="wait until whatever writes the file is done, then try again",
        )
    return "sha256:" + digest.hexdigest(), after.st_size, file_stamp(after)


class Catalog:
    """The catalog over ``repository`` (``store.catalog`` of the default tenant's store)."""

    def __init__(self, repository: CatalogRepository, *, owner: Any = None) -> None:
        self.repository = repository
        self._owner = owner  # the store it was opened from (open_catalog), closed with it

    def close(self) -> None:
        """Close the store ``open_catalog`` opened for it (nothing otherwise)."""
        if self._owner is not None:
            self._owner.close()
            self._owner = None

    def add(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        tags: Sequence[str] = (),
        state: str = "draft",
    ) -> CatalogModel:
        """Record the GGUF file at ``path``: its real path (symbolic links resolved), its
        digest, size and header; ``unverified``, in ``state`` (draft, active or canary).

        A digest is catalogued once: adding a file whose bytes are catalogued already is
        refused (``CatalogConflictError`` naming that model), whatever its path or name.

        Raises:
            ModelFileError: the file is missing, not a regular file, not GGUF, truncated
                or damaged.
            InvalidFieldError: a bad name, tag or state.
            CatalogConflictError: the digest, or the name, is catalogued.
        """
        check_state(state, INITIAL_STATES)
        tags = check_tags(list(tags))
        if name is not None:
            check_model_name(name)
        where = _real(path)
        with open_model(where) as (f, size):
            opened = os.fstat(f.fileno())  # the header and the digest are of one content
            info = read_gguf_file(f, size, where)
            digest, size, stamp = _hash(f.fileno(), where, opened)
        if name is None:
            name = _default_name(where)
        model = CatalogModel(
            id=model_id(digest),
            name=name,
            path=where,
            digest=digest,
            size_bytes=size,
            format="gguf",
            metadata=info.as_dict(),
            tags=tags,
            state=state,
            trust="unverified",
            verified_at=None,
            created_at="",
            updated_at="",
            stamp=stamp,
        )
        return self.repository.add(model)

    def get(self, ref: str) -> CatalogModel:
        """The model whose id, else whose name, is ``ref``.

        Raises:
            UnknownCatalogModelError: none is (the closest name suggested).
        """
        found = self.repository.get(ref)
        if found is None:
            raise UnknownCatalogModelError(ref, [m.name for m in self.repository.list()])
        return found

    def list(
        self, *, state: str | None = None, tag: str | None = None, trust: str | None = None
    ) -> list[CatalogModel]:
        """The models by name; only those in ``state``, holding ``tag``, of ``trust``."""
        return self.repository.list(state=state, tag=tag, trust=trust)

    def set_state(self, ref: str, state: str) -> CatalogModel:
        """Move a model to ``state`` (``TRANSITIONS``; ``retired`` is final).

        Raises:
            UnknownCatalogModelError, InvalidFieldError, InvalidTransitionError.
        """
        return self.repository.set_state(ref, state)

    def verify(self, ref: str) -> CatalogModel:
        """Hash the model's file again: ``verified`` when it matches the digest,
        ``untrusted`` when it does not or is gone (which every use then refuses).

        Raises:
            UnknownCatalogModelError: no model is ``ref``.
        """
        model = self.get(ref)
        return self._check(model, "verified")

    def usable(self, ref: str, policy: TrustPolicy = "strict") -> CatalogModel:
        """The model ``ref`` if it may be used now under ``policy``: the check every use
        (a pool's start, a reload) makes before an engine loads the file. The file's size
        and identity (device, inode, mtime, ctime) are compared with the record, and the
        file hashed again when any changed (a changed file that does not match makes the
        model ``untrusted``).

        Raises:
            UnknownCatalogModelError: no model is ``ref``.
            InvalidFieldError: an unknown policy.
            UntrustedArtifactError: the model is untrusted, retired, its file changed or gone,
                or (``strict``) it is not verified, or not active or canary.
        """
        if policy not in TRUST_POLICIES:
            raise InvalidFieldError(
                f"trust policy {str(policy)[:40]!r} is not strict or permissive",
                field="catalog.trust",
                fix='write [catalog] trust = "strict" (or "permissive")',
            )
        model = self.get(ref)
        _refuse(model, policy)
        try:
            info = os.stat(model.path)
            same = stat.S_ISREG(info.st_mode) and file_stamp(info) == model.stamp
        except OSError:
            same = False
        if not same:
            model = self._check(model, model.trust)
            _refuse(model, policy)
        return model

    def _check(self, model: CatalogModel, matched: str) -> CatalogModel:
        """Hash the model's file and record the outcome: ``matched`` when it matches,
        ``untrusted`` when it does not or cannot be read."""
        try:
            digest, size, stamp = file_digest(model.path)
        except ModelFileError:
            digest, size, stamp = "", model.size_bytes, ""
        trust = matched if digest == model.digest else "untrusted"
        return self.repository.record_check(model.id, trust=trust, size_bytes=size, stamp=stamp)


def _refuse(model: CatalogModel, policy: str) -> None:
    """Raise ``UntrustedArtifactError`` unless ``policy`` lets ``model`` be used (its file not
    looked at)."""
    label = f"model {model.name!r} ({model.id})"
    if model.trust == "untrusted":
        raise UntrustedArtifactError(
            f"{label} is untrusted: its file {model.path} no longer matched {model.digest} "
            "when last checked",
            model=model.id,
            reason="untrusted",
            fix=f"put the catalogued file back and run orca model verify {model.id}, or add "
            "the new file as a model of its own (orca model add PATH)",
        )
    if model.state == "retired":
        raise UntrustedArtifactError(
            f"{label} is retired",
            model=model.id,
            reason="retired",
            fix="use another model (orca model list --state active); retired is final",
        )
    if policy != "strict":
        return
    if model.trust != "verified":
        raise UntrustedArtifactError(
            f"{label} is {model.trust}; the strict trust policy uses verified models only",
            model=model.id,
            reason="unverified",
            fix=f'orca model verify {model.id} (or [catalog] trust = "permissive")',
        )
    if model.state not in USABLE_STATES:
        raise UntrustedArtifactError(
            f"{label} is {model.state}; the strict trust policy uses active or canary models only",
            model=model.id,
            reason="state",
            fix=f"orca model state {model.id} active (or canary)",
        )


def _real(path: str | os.PathLike[str]) -> str:
    """The absolute path of the file at ``path``, symbolic links resolved.

    Raises:
        ModelFileError: there is nothing at ``path``.
    """
    where = str(path)
    if "\x00" in where:
        raise ModelFileError(
            "the path holds a NUL character", path=where.replace("\x00", "\\0"), fix="give a path"
        )
    try:
        return str(Path(where).expanduser().resolve(strict=True))
    except (OSError, RuntimeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ModelFileError(
            f"{where} cannot be found ({reason})",
            path=where,
            fix="give the path of a GGUF model file on this host (the server's, when added "
            "over HTTP)",
        ) from None


def _default_name(path: str) -> str:
    """A model name from the file's stem: what ``check_model_name`` takes of it."""
    stem = Path(path).name.removesuffix(".gguf")
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "._:+-") else "-" for c in stem)
    cleaned = cleaned.lstrip("._:+-")[:128] or "model"
    return cleaned


def open_catalog(project: str | os.PathLike[str] | None = None) -> Catalog:
    """The installation's catalog, in the default tenant's store of ``project`` (or the
    store ``[store] url`` / ``ORCA_STORE`` names), opened now; ``close()`` it when done.

    Raises:
        ConfigError, CorruptDatabaseError, SchemaVersionError, DatabaseLockedError: as
            ``orca.store.project_store``.
    """
    from orca.store import DEFAULT_TENANT, project_store

    store = project_store(None if project is None else Path(project), tenant=DEFAULT_TENANT)
    return Catalog(store.catalog, owner=store)
