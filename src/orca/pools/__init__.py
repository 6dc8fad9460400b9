"""Local engine pools: the model catalog (model files by sha256 digest, their GGUF
metadata, lifecycle and trust), engine supervisors, placement and health (see
docs/pools.md).

Everything here runs on the installation's host; nothing imports the server or the
command line."""

from __future__ import annotations

from orca.pools._gguf import GGUFInfo, read_gguf
from orca.pools.catalog import (
    LIFECYCLE,
    TRUST,
    TRUST_POLICIES,
    Catalog,
    CatalogModel,
    TrustPolicy,
    UntrustedArtifact,
    file_digest,
)

__all__ = [
    "LIFECYCLE",
    "TRUST",
    "TRUST_POLICIES",
    "Catalog",
    "CatalogModel",
    "GGUFInfo",
    "TrustPolicy",
    "UntrustedArtifact",
    "file_digest",
    "read_gguf",
]
