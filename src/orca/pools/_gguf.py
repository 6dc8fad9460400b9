"""Orca's own reader of GGUF headers: what a model file is (architecture, context length,
layer count, parameter count, quantization) without loading it.

The file is data from anywhere, so every length is checked against what is left of the
file before anything is read or allocated: a string or an array that claims more bytes
than the file holds, a count of keys or tensors that cannot fit, an unknown value type,
a tensor that ends past the file's end, all raise ``ModelFileError`` naming the file,
the offset and what is wrong. Only the values Orca uses are kept; every other value is
skipped (seeked over, after the bound check), so a vocabulary of 150 000 tokens costs no
memory. The ``gguf`` package is not needed.
"""

from __future__ import annotations

import os
import stat
import struct
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

from orca.errors import ModelFileError

__all__ = [
    "FILE_TYPES",
    "TENSOR_TYPES",
    "GGUFInfo",
    "open_model",
    "read_gguf",
    "read_gguf_file",
]

MAGIC = b"GGUF"
VERSIONS = (2, 3)
MAX_KEY_BYTES = 65_536
"""The longest key taken (llama.cpp's keys are tens of bytes)."""
MAX_KEPT_STRING_BYTES = 65_536
"""The longest string value kept (``general.name``...); a longer one is skipped, as is
every value of a key Orca does not read, whatever its length (within the file)."""
_GENERAL = frozenset(
    {"general.architecture", "general.name", "general.file_type", "general.alignment"}
)
MAX_KEPT_ARRAY = 4096
"""The most integers kept of an array-valued key Orca reads (a per-layer head count)."""
MAX_DIMS = 4
"""GGML_MAX_DIMS: a tensor has 1 to 4 dimensions."""
MAX_NESTING = 8
"""How deep arrays of arrays may go."""

# value types: (struct format, size) of the fixed-size ones; 8 string, 9 array
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1),  # uint8
    1: ("<b", 1),  # int8
    2: ("<H", 2),  # uint16
    3: ("<h", 2),  # int16
    4: ("<I", 4),  # uint32
    5: ("<i", 4),  # int32
    6: ("<f", 4),  # float32
    7: ("<?", 1),  # bool
    10: ("<Q", 8),  # uint64
    11: ("<q", 8),  # int64
    12: ("<d", 8),  # float64
}
_INTEGERS = frozenset({0, 1, 2, 3, 4, 5, 10, 11})
_STRING = 8
_ARRAY = 9
_TYPE_NAMES = {
    0: "uint8", 1: "int8", 2: "uint16", 3: "int16", 4: "uint32", 5: "int32", 6: "float32",
    7: "bool", 8: "string", 9: "array", 10: "uint64", 11: "int64", 12: "float64",
}  # fmt: skip

TENSOR_TYPES: dict[int, tuple[str, int, int]] = {
    # ggml_type: (name, elements per block, bytes per block), as ggml.h numbers them
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
}
MAX_TENSOR_TYPE = 1023
"""A tensor type past this is refused as garbage; one below it that Orca does not know
(a newer llama.cpp's) is named ``TYPE_<n>`` and its size is not checked."""

FILE_TYPES: dict[int, str] = {
    # general.file_type: llama.cpp's LLAMA_FTYPE_* numbering (llama.h)
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
}

_FIX = "give the path of a complete GGUF model file (llama.cpp's format, version 2 or 3)"


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """What a GGUF file's header says of the model in it.

    Attributes:
        version: the GGUF format version (2 or 3).
        architecture: ``general.architecture`` ("llama", "qwen2", ...).
        name: ``general.name``.
        context_length, block_count, embedding_length, head_count: the architecture's
            ``{arch}.context_length``, ``.block_count`` (the layer count),
            ``.embedding_length`` and ``.attention.head_count`` (the largest, where it is
            given per layer).
        head_count_kv: ``{arch}.attention.head_count_kv``, else ``head_count``.
        file_type: ``general.file_type`` (llama.cpp's ``LLAMA_FTYPE_*``).
        quantization: "F32", "F16", "Q8_0", "Q4_K_M", ...: from ``file_type``, else the
            tensor type holding the most bytes.
        parameter_count: the sum of the tensors' element counts.
        tensor_count: how many tensors the file holds.
    """

    version: int
    architecture: str
    name: str | None
    context_length: int | None
    block_count: int | None
    embedding_length: int | None
    head_count: int | None
    head_count_kv: int | None
    file_type: int | None
    quantization: str
    parameter_count: int
    tensor_count: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Reader:
    """Reads a GGUF header from ``f`` (``size`` bytes long), each read bounded by what is
    left of the file."""

    def __init__(self, f: BinaryIO, size: int, where: str) -> None:
        self.f = f
        self.size = size
        self.where = where
        self.pos = 0

    def fail(self, problem: str, fix: str = _FIX) -> ModelFileError:
        return ModelFileError(f"{self.where} {problem}", path=self.where, fix=fix)

    def left(self) -> int:
        return self.size - self.pos

    def need(self, n: int, what: str) -> None:
        if n > self.left():
            raise self.fail(
                f"is truncated or damaged: {what} at byte {self.pos} needs {n} bytes, "
                f"{self.left()} are left of the file's {self.size}"
            )

    def take(self, n: int, what: str) -> bytes:
        self.need(n, what)
        data = self.f.read(n)
        if len(data) != n:  # the file shrank under us
            raise self.fail(
                f"is truncated or damaged: it ended at byte {self.pos + len(data)} while "
                f"{what} was read"
            )
        self.pos += n
        return data

    def skip(self, n: int, what: str) -> None:
        self.need(n, what)
        self.pos += n
        self.f.seek(self.pos)

    def scalar(self, kind: int, what: str) -> Any:
        fmt, width = _SCALARS[kind]
        return struct.unpack(fmt, self.take(width, what))[0]

    def u32(self, what: str) -> int:
        value: int = self.scalar(4, what)
        return value

    def u64(self, what: str) -> int:
        value: int = self.scalar(10, what)
        return value

    def string(self, what: str, *, keep: int | None, long_ok: bool = False) -> str | None:
        """A string: read when ``keep`` bounds its length, else skipped. A longer one is
        refused, or skipped (None) with ``long_ok``."""
        length = self.u64(f"the length of {what}")
        self.need(length, f"{what} ({length} bytes)")
        if keep is None or (long_ok and length > keep):
            self.skip(length, what)
            return None
        if length > keep:
            raise self.fail(f"holds {what} of {length} bytes, over the {keep} Orca reads")
        raw = self.take(length, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"holds {what} that is not UTF-8 text") from None

    def value_type(self, what: str) -> int:
        at = self.pos
        kind = self.u32(f"the type of {what}")
        if kind not in _SCALARS and kind not in (_STRING, _ARRAY):
            raise self.fail(
                f"gives {what} the unknown value type {kind} (at byte {at}); GGUF's are 0 to 12",
                fix="the file is damaged or of a newer GGUF version: download it again, or "
                "convert it with a current llama.cpp",
            )
        return kind

    def value(self, kind: int, what: str, *, keep: bool, depth: int = 0) -> Any:
        """A value of ``kind``: returned when ``keep`` (scalars, strings, arrays of
        integers), else skipped and None."""
        if kind in _SCALARS:
            if keep:
                return self.scalar(kind, what)
            self.skip(_SCALARS[kind][1], what)
            return None
        if kind == _STRING:
            return self.string(what, keep=MAX_KEPT_STRING_BYTES if keep else None, long_ok=True)
        if depth >= MAX_NESTING:
            raise self.fail(f"nests arrays more than {MAX_NESTING} deep in {what}")
        item = self.value_type(f"the items of {what}")
        count = self.u64(f"the length of {what}")
        smallest = _SCALARS[item][1] if item in _SCALARS else 8  # a string's length, or
        if count > self.left() // smallest:  # an inner array's type: at least 8 bytes
            raise self.fail(
                f"is truncated or damaged: it says {what} holds {count} items, more than "
                f"the {self.left()} bytes left can hold"
            )
        if item in _SCALARS:
            if keep and item in _INTEGERS and count <= MAX_KEPT_ARRAY:
                return [self.scalar(item, what) for _ in range(count)]
            self.skip(count * _SCALARS[item][1], what)
            return None
        for _ in range(count):
            self.value(item, what, keep=False, depth=depth + 1)
        return None


def _integer(reader: _Reader, key: str, value: Any, kind: int) -> int | None:
    """An integer-valued key's value (the largest of an array of them)."""
    if value is None:
        return None
    if isinstance(value, list):
        if not value:
            return None
        value = max(value)
    elif kind not in _INTEGERS:
        raise reader.fail(f"gives {key} as a {_TYPE_NAMES[kind]}, not an integer")
    if value < 0:
        raise reader.fail(f"gives {key} the negative value {value}")
    return int(value)


def read_gguf_file(f: BinaryIO, size: int, where: str) -> GGUFInfo:
    """The header of the open GGUF file ``f`` (``size`` bytes, read from its start;
    ``where`` names it in errors).

    Raises:
        ModelFileError: the file is not GGUF, of an unsupported version, truncated, or
            damaged or hostile (a length past its end, an unknown value type, a tensor
            out of bounds).
    """
    r = _Reader(f, size, where)
    f.seek(0)
    if size < 4 or r.take(4, "the magic") != MAGIC:
        raise r.fail(
            "is not a GGUF file (it does not start with 'GGUF')",
            fix="give a GGUF model file (.gguf); convert others with llama.cpp's "
            "convert_hf_to_gguf.py",
        )
    version = r.u32("the version")
    if version not in VERSIONS:
        raise r.fail(
            f"is GGUF version {version}; Orca reads versions 2 and 3",
            fix="convert it with a current llama.cpp (convert_hf_to_gguf.py or llama-quantize)",
        )
    tensor_count = r.u64("the tensor count")
    kv_count = r.u64("the key count")
    if kv_count > r.left() // 13:  # the least a key-value pair takes: 8 + 1 + 4 + 0...
        raise r.fail(
            f"is truncated or damaged: it says it holds {kv_count} keys, more than the "
            f"{r.left()} bytes left can hold"
        )
    if tensor_count > r.left() // 24:  # ... and a tensor's description: 8 + 4 + 8 + 4
        raise r.fail(
            f"is truncated or damaged: it says it holds {tensor_count} tensors, more than "
            f"the {r.left()} bytes left can hold"
        )

    wanted_suffixes = (
        ".context_length",
        ".block_count",
        ".embedding_length",
        ".attention.head_count",
        ".attention.head_count_kv",
    )
    kept: dict[str, tuple[int, Any]] = {}
    for index in range(kv_count):
        key = r.string(f"key #{index}", keep=MAX_KEY_BYTES)
        assert key is not None
        kind = r.value_type(f"key {key[:80]!r}")
        keep = key in _GENERAL or key.endswith(wanted_suffixes)
        value = r.value(kind, f"the value of {key[:80]!r}", keep=keep)
        if keep:
            kept[key] = (kind, value)

    arch_kind, architecture = kept.get("general.architecture", (_STRING, None))
    if arch_kind != _STRING or not architecture:
        raise r.fail(
            "names no architecture (general.architecture): llama.cpp cannot load it",
            fix="give a model file, not a vocabulary, adapter or damaged file",
        )
    alignment = 32
    if "general.alignment" in kept:
        align_kind, align_value = kept["general.alignment"]
        alignment = _integer(r, "general.alignment", align_value, align_kind) or 0
        if alignment <= 0 or alignment & (alignment - 1) or alignment > 1 << 20:
            raise r.fail(f"gives general.alignment {alignment}, not a power of two")

    def number(key: str) -> int | None:
        kind, value = kept.get(key, (4, None))
        return _integer(r, key, value, kind)

    tensors: list[tuple[str, int, int, int, int | None]] = []  # name, type, offset, count, bytes
    for index in range(tensor_count):
        name = r.string(f"the name of tensor #{index}", keep=MAX_KEY_BYTES)
        assert name is not None
        label = f"tensor {name[:80]!r}"
        dims = r.u32(f"the dimension count of {label}")
        if not 1 <= dims <= MAX_DIMS:
            raise r.fail(f"gives {label} {dims} dimensions; a tensor has 1 to {MAX_DIMS}")
        count = 1
        for _ in range(dims):
            count *= r.u64(f"a dimension of {label}")
        ggml = r.u32(f"the type of {label}")
        if ggml > MAX_TENSOR_TYPE:
            raise r.fail(f"gives {label} the tensor type {ggml}, which no GGML has")
        offset = r.u64(f"the data offset of {label}")
        nbytes = None
        if ggml in TENSOR_TYPES:
            _, block, width = TENSOR_TYPES[ggml]
            if count % block:
                raise r.fail(
                    f"gives {label} {count} elements, not a whole number of "
                    f"{TENSOR_TYPES[ggml][0]} blocks of {block}"
                )
            nbytes = count // block * width
        tensors.append((name, ggml, offset, count, nbytes))

    data_start = r.pos + (-r.pos % alignment)
    by_type: Counter[int] = Counter()
    for name, ggml, offset, count, nbytes in tensors:
        if offset % alignment:
            raise r.fail(f"places tensor {name[:80]!r} at offset {offset}, not aligned")
        end = data_start + offset + (nbytes or 0)
        if end > size:
            raise r.fail(
                f"is truncated or damaged: tensor {name[:80]!r} ends at byte {end}, past the "
                f"file's end ({size} bytes)"
            )
        by_type[ggml] += nbytes if nbytes is not None else count

    file_type = number("general.file_type")
    if file_type is not None and file_type in FILE_TYPES:
        quantization = FILE_TYPES[file_type]
    elif by_type:
        # the most bytes; ties to the lower type number, so the answer does not depend
        # on the tensors' order
        ggml = min(by_type, key=lambda t: (-by_type[t], t))
        quantization = TENSOR_TYPES[ggml][0] if ggml in TENSOR_TYPES else f"TYPE_{ggml}"
    else:
        quantization = "unknown"
    name_kind, model_name = kept.get("general.name", (_STRING, None))
    head_count = number(f"{architecture}.attention.head_count")
    head_count_kv = number(f"{architecture}.attention.head_count_kv")
    return GGUFInfo(
        version=version,
        architecture=architecture,
        name=model_name if name_kind == _STRING else None,
        context_length=number(f"{architecture}.context_length"),
        block_count=number(f"{architecture}.block_count"),
        embedding_length=number(f"{architecture}.embedding_length"),
        head_count=head_count,
        head_count_kv=head_count_kv if head_count_kv is not None else head_count,
        file_type=file_type,
        quantization=quantization,
        parameter_count=sum(t[3] for t in tensors),
        tensor_count=tensor_count,
    )


def read_gguf(path: str | os.PathLike[str]) -> GGUFInfo:
    """The header of the GGUF file at ``path``.

    Raises:
        ModelFileError: it is missing, not a regular file, not GGUF, of an unsupported
            version, truncated, or damaged or hostile (the message names the file and
            the problem; ``fix`` what to do).
    """
    with open_model(path) as (f, size):
        return read_gguf_file(f, size, str(path))


@contextmanager
def open_model(path: str | os.PathLike[str]) -> Iterator[tuple[BinaryIO, int]]:
    """The model file at ``path``, opened for reading, and its size; closed after.

    Raises:
        ModelFileError: it cannot be opened, or is not a regular file (a directory, a
            device, a FIFO, a socket).
    """
    where = str(path)
    try:
        # O_NONBLOCK: a FIFO given as the path must not hang the open
        fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ModelFileError(
            f"{where} cannot be opened ({exc.strerror})",
            path=where,
            fix="give the path of a readable GGUF model file",
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise ModelFileError(
                f"{where} is {what}",
                path=where,
                fix="give the path of a GGUF model file (a regular file)",
            )
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f, info.st_size
