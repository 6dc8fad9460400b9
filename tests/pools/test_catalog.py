"""The model catalog (``orca.pools.Catalog``) over real model files and a real project
database: what ``add`` records (digest, size, GGUF metadata), digests stable across
writes and chunking, ``verify`` after the file changed or went away (untrusted, and
``UNTRUSTED_ARTIFACT`` on every use), the strict and permissive trust policies, a file
swapped under a catalogued model caught by ``usable``, and paths that are not model
files refused."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import orca.pools
from orca.errors import (
    CatalogConflictError,
    InvalidFieldError,
    InvalidTransitionError,
    ModelFileError,
    UnknownCatalogModelError,
    UntrustedArtifactError,
)
from orca.llm.tiny import write_tiny_model
from orca.pools import Catalog, file_digest
from orca.pools.catalog import file_stamp
from orca.store import SqliteStore
from orca.store.postgres import PostgresStore

from ._gguf_bytes import Model, Tensor


@pytest.fixture(params=["sqlite", "postgres"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """A catalog over a real project store of each backend."""
    store: SqliteStore | PostgresStore
    if request.param == "postgres":
        store = PostgresStore(request.getfixturevalue("pg_url"))
    else:
        store = SqliteStore(tmp_path / "project.db")
    yield Catalog(store.catalog)
    store.close()


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    return write_tiny_model(tmp_path / "models" / "tiny-0.gguf", seed=0)


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_pools_package_exports_the_catalog() -> None:
    for name in ("Catalog", "CatalogModel", "GGUFInfo", "UntrustedArtifactError", "read_gguf"):
        assert name in orca.pools.__all__
        assert getattr(orca.pools, name) is not None


def test_add_records_the_digest_size_and_metadata(catalog: Catalog, tiny: Path) -> None:
    model = catalog.add(tiny, tags=["chat", "tiny"])
    assert model.digest == sha256(tiny)
    assert model.id == "mdl_" + model.digest[7:23]
    assert model.size_bytes == tiny.stat().st_size
    assert model.path == str(tiny.resolve())
    assert model.name == "tiny-0"
    assert (model.format, model.state, model.trust, model.verified_at) == (
        "gguf",
        "draft",
        "unverified",
        None,
    )
    meta = model.metadata
    assert (meta["architecture"], meta["block_count"], meta["context_length"]) == ("llama", 2, 2048)
    assert (meta["quantization"], meta["parameter_count"]) == ("F32", 128064)
    assert model.tags == ("chat", "tiny")
    assert catalog.get("tiny-0") == catalog.get(model.id) == model


def test_digests_are_stable_and_tell_files_apart(tmp_path: Path) -> None:
    a = write_tiny_model(tmp_path / "a.gguf", seed=0)
    b = write_tiny_model(tmp_path / "b.gguf", seed=0)
    c = write_tiny_model(tmp_path / "c.gguf", seed=1)
    assert file_digest(a)[0] == file_digest(b)[0] == sha256(a)
    assert file_digest(c)[0] != file_digest(a)[0]


def test_a_file_of_many_chunks_hashes_as_a_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.gguf"
    path.write_bytes(Model(tensors=[Tensor("w", (1024, 900))]).bytes())  # 3.5 MiB
    digest, size, _ = file_digest(path)
    assert size > 3 * (1 << 20)
    assert digest == sha256(path)


def test_a_symlink_is_recorded_as_the_file_it_names(catalog: Catalog, tiny: Path) -> None:
    link = tiny.parent / "current.gguf"
    link.symlink_to(tiny)
    model = catalog.add(link, name="current")
    assert model.path == str(tiny.resolve())


def test_the_same_bytes_are_refused_whatever_their_path(
    catalog: Catalog, tiny: Path, tmp_path: Path
) -> None:
    first = catalog.add(tiny)
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(tiny.read_bytes())
    with pytest.raises(CatalogConflictError) as caught:
        catalog.add(copy, name="copy")
    assert caught.value.existing == first.id
    other = write_tiny_model(tmp_path / "models" / "tiny-1.gguf", seed=1)
    with pytest.raises(CatalogConflictError, match="--name"):
        catalog.add(other, name="tiny-0")
    assert catalog.add(other).name == "tiny-1"


def test_what_is_not_a_model_file_is_refused(catalog: Catalog, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    for path, said in [
        (tmp_path / "missing.gguf", "cannot be found"),
        (tmp_path, "is a directory"),
        (Path("/dev/null"), "not a regular file"),
        (fifo, "not a regular file"),
        (text, "not a GGUF file"),
    ]:
        with pytest.raises(ModelFileError, match=said):
            catalog.add(path)
    assert catalog.list() == []


def test_bad_names_tags_and_states_are_refused(catalog: Catalog, tiny: Path) -> None:
    for kwargs, field in [
        ({"name": "../etc"}, "name"),
        ({"tags": ["ok", "no spaces"]}, "tags"),
        ({"state": "retired"}, "state"),
    ]:
        with pytest.raises(InvalidFieldError) as caught:
            catalog.add(tiny, **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field
    assert catalog.list() == []
    catalog.add(tiny)
    with pytest.raises(UnknownCatalogModelError, match="did you mean 'tiny-0'"):
        catalog.get("tiny-")


def test_verify_marks_a_matching_file_verified(catalog: Catalog, tiny: Path) -> None:
    model = catalog.add(tiny)
    verified = catalog.verify(model.id)
    assert verified.trust == "verified"
    assert verified.verified_at is not None


def test_a_changed_file_is_untrusted_and_every_use_fails(catalog: Catalog, tiny: Path) -> None:
    model = catalog.add(tiny, state="active")
    catalog.verify(model.id)
    original = tiny.read_bytes()
    tiny.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # one bit of a weight
    assert catalog.verify("tiny-0").trust == "untrusted"
    for policy in ("strict", "permissive"):
        with pytest.raises(UntrustedArtifactError) as caught:
            catalog.usable("tiny-0", policy)  # type: ignore[arg-type]
        assert caught.value.reason == "untrusted"
        assert caught.value.model == model.id
        assert "orca model verify" in str(caught.value)
    tiny.write_bytes(original)  # the catalogued bytes back: a verify trusts them again
    assert catalog.verify("tiny-0").trust == "verified"
    assert catalog.usable("tiny-0").digest == model.digest


def test_a_missing_file_is_untrusted(catalog: Catalog, tiny: Path) -> None:
    model = catalog.add(tiny, state="active")
    tiny.unlink()
    assert catalog.verify(model.id).trust == "untrusted"
    with pytest.raises(UntrustedArtifactError):
        catalog.usable(model.id, "permissive")


def test_a_file_swapped_under_a_model_is_caught_by_its_next_use(
    catalog: Catalog, tiny: Path, tmp_path: Path
) -> None:
    model = catalog.add(tiny, state="active")
    catalog.verify(model.id)
    assert catalog.usable(model.id).trust == "verified"
    swapped = write_tiny_model(tmp_path / "other.gguf", seed=3)
    os.replace(swapped, tiny)  # another model's bytes at the catalogued path
    with pytest.raises(UntrustedArtifactError) as caught:
        catalog.usable(model.id)
    assert caught.value.reason == "untrusted"
    assert catalog.get(model.id).trust == "untrusted"


def test_a_touched_file_is_hashed_again_and_still_trusted(catalog: Catalog, tiny: Path) -> None:
    model = catalog.add(tiny, state="active")
    catalog.verify(model.id)
    stat = tiny.stat()
    os.utime(tiny, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    used = catalog.usable(model.id)
    assert used.trust == "verified"
    assert used.stamp == file_stamp(tiny.stat()) != model.stamp
    assert used.verified_at is not None


def test_bytes_changed_in_place_with_the_mtime_set_back_are_caught(
    catalog: Catalog, tiny: Path
) -> None:
    model = catalog.add(tiny, state="active")
    catalog.verify(model.id)
    before = tiny.stat()
    probe = tiny.parent / "probe"
    probe.touch()
    while probe.stat().st_ctime_ns <= before.st_ctime_ns:  # the kernel's clock has moved on
        probe.touch()
    with tiny.open("r+b") as f:  # the same inode, the same size, one byte different
        f.seek(before.st_size - 1)
        last = f.read(1)
        f.seek(before.st_size - 1)
        f.write(bytes([last[0] ^ 0x10]))
    os.utime(tiny, ns=(before.st_atime_ns, before.st_mtime_ns))  # the mtime forged back
    assert tiny.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(UntrustedArtifactError) as caught:
        catalog.usable(model.id)  # the ctime moved: hashed again
    assert caught.value.reason == "untrusted"


def test_the_strict_policy_takes_verified_active_or_canary_models_only(
    catalog: Catalog, tiny: Path
) -> None:
    model = catalog.add(tiny)
    with pytest.raises(UntrustedArtifactError) as caught:
        catalog.usable(model.id, "strict")
    assert caught.value.reason == "unverified"
    catalog.verify(model.id)
    with pytest.raises(UntrustedArtifactError) as caught:
        catalog.usable(model.id, "strict")  # verified, but a draft
    assert caught.value.reason == "state"
    for state in ("canary", "active"):
        catalog.set_state(model.id, state)
        assert catalog.usable(model.id, "strict").state == state
    catalog.set_state(model.id, "deprecated")
    with pytest.raises(UntrustedArtifactError):
        catalog.usable(model.id, "strict")


def test_the_permissive_policy_takes_anything_not_untrusted_or_retired(
    catalog: Catalog, tiny: Path
) -> None:
    model = catalog.add(tiny)
    assert catalog.usable(model.id, "permissive").trust == "unverified"
    catalog.set_state(model.id, "active")
    catalog.set_state(model.id, "deprecated")
    assert catalog.usable(model.id, "permissive").state == "deprecated"
    catalog.set_state(model.id, "retired")
    with pytest.raises(UntrustedArtifactError) as caught:
        catalog.usable(model.id, "permissive")
    assert caught.value.reason == "retired"
    with pytest.raises(InvalidTransitionError, match="retired is final"):
        catalog.set_state(model.id, "active")


def test_an_unknown_policy_is_refused(catalog: Catalog, tiny: Path) -> None:
    model = catalog.add(tiny)
    with pytest.raises(InvalidFieldError, match="strict or permissive"):
        catalog.usable(model.id, "lenient")  # type: ignore[arg-type]


def test_lists_filter(catalog: Catalog, tiny: Path, tmp_path: Path) -> None:
    catalog.add(tiny, tags=["chat"])
    catalog.add(write_tiny_model(tmp_path / "b.gguf", seed=2), tags=["code"], state="canary")
    assert [m.name for m in catalog.list()] == ["b", "tiny-0"]
    assert [m.name for m in catalog.list(tag="code")] == ["b"]
    assert [m.name for m in catalog.list(state="draft")] == ["tiny-0"]


def test_the_trust_policy_is_configured_strict_by_default(tmp_path: Path) -> None:
    from orca.config import load_config
    from orca.errors import ConfigError

    (tmp_path / ".orca").mkdir()
    assert load_config(tmp_path).catalog.trust == "strict"
    (tmp_path / ".orca" / "orca.toml").write_text('[catalog]\ntrust = "permissive"\n')
    assert load_config(tmp_path).catalog.trust == "permissive"
    (tmp_path / ".orca" / "orca.toml").write_text('[catalog]\ntrust = "lenient"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "catalog.trust"
    assert "'strict' or 'permissive'" in str(caught.value)
