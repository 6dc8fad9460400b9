"""GGUF files built byte by byte for the tests: well-formed small ones, and hostile ones
(a field changed to lie about a length, a count or a type)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_FORMATS = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
            BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}  # fmt: skip


def string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def value(kind: int, v: Any) -> bytes:
    if kind == STRING:
        return string(v)
    if kind == ARRAY:
        item, items = v
        return struct.pack("<IQ", item, len(items)) + b"".join(value(item, x) for x in items)
    return struct.pack(_FORMATS[kind], v)


@dataclass
class Tensor:
    name: str
    dims: Sequence[int]
    ggml: int = 0  # F32
    nbytes: int | None = None  # default: 4 bytes an element (F32)


@dataclass
class Model:
    """A GGUF file: its keys (name, type, value) and tensors, written by ``bytes()``."""

    keys: list[tuple[str, int, Any]] = field(
        default_factory=lambda: [
            ("general.architecture", STRING, "llama"),
            ("general.name", STRING, "fixture"),
            ("llama.context_length", U32, 512),
            ("llama.block_count", U32, 1),
            ("llama.embedding_length", U32, 8),
            ("llama.attention.head_count", U32, 2),
        ]
    )
    tensors: list[Tensor] = field(
        default_factory=lambda: [Tensor("token_embd.weight", (8, 4)), Tensor("output.weight", (8,))]
    )
    version: int = 3
    magic: bytes = b"GGUF"
    alignment: int = 32

    def header(self) -> bytes:
        out = self.magic + struct.pack("<IQQ", self.version, len(self.tensors), len(self.keys))
        for key, kind, v in self.keys:
            out += string(key) + struct.pack("<I", kind) + value(kind, v)
        offset = 0
        for t in self.tensors:
            out += string(t.name) + struct.pack("<I", len(t.dims))
            out += b"".join(struct.pack("<Q", d) for d in t.dims)
            out += struct.pack("<IQ", t.ggml, offset)
            offset += self._size(t)
            offset += -offset % self.alignment
        return out

    def _size(self, t: Tensor) -> int:
        if t.nbytes is not None:
            return t.nbytes
        count = 1
        for d in t.dims:
            count *= d
        return count * 4

    def bytes(self) -> bytes:
        out = self.header()
        out += b"\0" * (-len(out) % self.alignment)
        for t in self.tensors:
            data = bytes(range(256)) * (self._size(t) // 256 + 1)
            out += data[: self._size(t)]
            out += b"\0" * (-len(out) % self.alignment)
        return out
