"""Orca's GGUF reader (``orca.pools._gguf``): the tiny model's real header, files written
by the ``gguf`` package, and hostile files (truncated anywhere, lengths and counts past
the file's end, bad magic, version, value and tensor types), each refused with a
``ModelFileError`` naming the file and the problem, quickly and without a large
allocation."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import pytest

from orca.errors import InvalidInputError, ModelFileError
from orca.llm.tiny import ensure_tiny_model
from orca.pools._gguf import GGUFInfo, read_gguf

from ._gguf_bytes import ARRAY, STRING, U32, U64, Model, Tensor, string


def write(tmp_path: Path, data: bytes, name: str = "m.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refused(path: Path) -> ModelFileError:
    with pytest.raises(ModelFileError) as caught:
        read_gguf(path)
    error = caught.value
    assert isinstance(error, InvalidInputError)
    assert error.path == str(path)
    assert str(path) in str(error)
    assert error.fix
    return error


def test_the_tiny_model_reads_as_the_llama_it_is() -> None:
    info = read_gguf(ensure_tiny_model())
    assert info == GGUFInfo(
        version=3,
        architecture="llama",
        name="orca-tiny-0",
        context_length=2048,
        block_count=2,
        embedding_length=64,
        head_count=4,
        head_count_kv=4,
        file_type=0,
        quantization="F32",
        parameter_count=128064,
        tensor_count=21,
    )
    assert info.as_dict()["block_count"] == 2


def test_the_parameter_count_is_the_sum_of_the_tensors_elements() -> None:
    gguf = pytest.importorskip("gguf")
    path = ensure_tiny_model()
    reference = gguf.GGUFReader(str(path))
    assert read_gguf(path).parameter_count == sum(int(t.n_elements) for t in reference.tensors)


def test_a_file_the_gguf_package_writes_reads_back(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    np = pytest.importorskip("numpy")
    path = tmp_path / "written.gguf"
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_name("written")
    writer.add_context_length(4096)
    writer.add_block_count(3)
    writer.add_head_count(8)
    writer.add_head_count_kv(2)
    writer.add_tensor("a", np.zeros((16, 32), dtype=np.float16))  # 1024 bytes of F16
    writer.add_tensor("b", np.zeros((8,), dtype=np.float32))  # 32 bytes of F32
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    info = read_gguf(path)
    assert (info.architecture, info.name, info.context_length, info.block_count) == (
        "qwen2",
        "written",
        4096,
        3,
    )
    assert (info.head_count, info.head_count_kv) == (8, 2)
    # no general.file_type: the type holding the most bytes
    assert (info.file_type, info.quantization) == (None, "F16")
    assert (info.parameter_count, info.tensor_count) == (16 * 32 + 8, 2)


def test_the_quantization_comes_from_the_file_type_when_there_is_one(tmp_path: Path) -> None:
    model = Model()
    model.keys.append(("general.file_type", U32, 15))
    assert read_gguf(write(tmp_path, model.bytes())).quantization == "Q4_K_M"


def test_a_quantized_tensor_is_sized_by_its_blocks(tmp_path: Path) -> None:
    # 64 elements of Q8_0: two blocks of 34 bytes; it outweighs the 8 F32 bytes... of 2
    model = Model(tensors=[Tensor("q", (64,), ggml=8, nbytes=68), Tensor("f", (2,))])
    info = read_gguf(write(tmp_path, model.bytes()))
    assert (info.quantization, info.parameter_count) == ("Q8_0", 66)


def test_head_count_kv_defaults_to_head_count(tmp_path: Path) -> None:
    info = read_gguf(write(tmp_path, Model().bytes()))
    assert (info.head_count, info.head_count_kv) == (2, 2)


def test_a_per_layer_head_count_is_its_largest(tmp_path: Path) -> None:
    model = Model()
    model.keys[-1] = ("llama.attention.head_count", ARRAY, (U32, [2, 6, 4]))
    assert read_gguf(write(tmp_path, model.bytes())).head_count == 6


def test_every_truncation_of_a_small_file_is_refused(tmp_path: Path) -> None:
    data = Model().bytes()
    assert read_gguf(write(tmp_path, data)).tensor_count == 2
    for end in range(len(data)):
        path = write(tmp_path, data[:end], f"cut-{end}.gguf")
        error = refused(path)
        assert "truncated or damaged" in str(error) or "not a GGUF file" in str(error), end
        path.unlink()


def test_truncations_of_the_tiny_model_are_refused(tmp_path: Path) -> None:
    data = ensure_tiny_model().read_bytes()
    for end in [*range(0, 4096, 7), *range(4096, len(data), 4099), len(data) - 1]:
        refused(write(tmp_path, data[:end], "cut.gguf"))


def test_a_huge_string_length_is_refused_without_reading_it(tmp_path: Path) -> None:
    model = Model()
    data = bytearray(model.bytes())
    at = data.index(b"general.architecture") - 8  # the key's own length
    data[at : at + 8] = struct.pack("<Q", 2**63)
    error = refused(write(tmp_path, bytes(data)))
    assert "truncated or damaged" in str(error)
    assert str(2**63) in str(error)


def test_a_huge_value_string_is_refused(tmp_path: Path) -> None:
    model = Model()
    model.keys.append(("tokenizer.chat_template", STRING, "x"))
    data = model.header()
    at = data.index(b"tokenizer.chat_template") + len("tokenizer.chat_template") + 4
    hostile = data[:at] + struct.pack("<Q", 1 << 40) + data[at + 8 :]
    refused(write(tmp_path, hostile))


def test_a_huge_array_count_is_refused(tmp_path: Path) -> None:
    model = Model()
    model.keys.append(("tokenizer.ggml.tokens", ARRAY, (STRING, ["a", "b"])))
    data = model.bytes()
    at = data.index(b"tokenizer.ggml.tokens") + len("tokenizer.ggml.tokens") + 4 + 4
    assert struct.unpack("<Q", data[at : at + 8]) == (2,)
    hostile = data[:at] + struct.pack("<Q", 2**62) + data[at + 8 :]
    error = refused(write(tmp_path, hostile))
    assert "holds 4611686018427387904 items" in str(error)


def test_huge_key_and_tensor_counts_are_refused(tmp_path: Path) -> None:
    data = Model().bytes()
    keys = data[:16] + struct.pack("<Q", 2**60) + data[24:]
    assert "keys" in str(refused(write(tmp_path, keys, "k.gguf")))
    tensors = data[:8] + struct.pack("<Q", 2**60) + data[16:]
    assert "tensors" in str(refused(write(tmp_path, tensors, "t.gguf")))


def test_bad_magic_is_not_gguf(tmp_path: Path) -> None:
    error = refused(write(tmp_path, Model(magic=b"GGML").bytes()))
    assert "is not a GGUF file" in str(error)
    assert "not a GGUF file" in str(refused(write(tmp_path, b"", "empty.gguf")))


@pytest.mark.parametrize("version", [0, 1, 4, 2**32 - 1])
def test_an_unsupported_version_is_refused(tmp_path: Path, version: int) -> None:
    error = refused(write(tmp_path, Model(version=version).bytes()))
    assert f"version {version}" in str(error)


def test_version_2_is_read(tmp_path: Path) -> None:
    assert read_gguf(write(tmp_path, Model(version=2).bytes())).version == 2


def test_an_unknown_value_type_is_refused(tmp_path: Path) -> None:
    data = Model().bytes()
    at = data.index(b"general.name") + len("general.name")
    hostile = data[:at] + struct.pack("<I", 13) + data[at + 4 :]
    error = refused(write(tmp_path, hostile))
    assert "unknown value type 13" in str(error)


def test_a_tensor_past_the_end_is_refused(tmp_path: Path) -> None:
    model = Model(tensors=[Tensor("big", (1 << 40, 1 << 20))])
    error = refused(write(tmp_path, model.header()))
    assert "tensor 'big' ends at byte" in str(error)


def test_a_tensor_of_too_many_dimensions_or_no_type_is_refused(tmp_path: Path) -> None:
    five = Model(tensors=[Tensor("t", (1, 1, 1, 1, 1))])
    assert "5 dimensions" in str(refused(write(tmp_path, five.bytes(), "5.gguf")))
    garbage = Model(tensors=[Tensor("t", (4,), ggml=70_000, nbytes=4)])
    assert "tensor type 70000" in str(refused(write(tmp_path, garbage.bytes(), "g.gguf")))


def test_a_model_without_an_architecture_is_refused(tmp_path: Path) -> None:
    model = Model()
    model.keys = model.keys[1:]
    assert "no architecture" in str(refused(write(tmp_path, model.bytes())))


def test_a_wrongly_typed_number_is_refused(tmp_path: Path) -> None:
    model = Model()
    model.keys[2] = ("llama.context_length", STRING, "2048")
    assert "llama.context_length" in str(refused(write(tmp_path, model.bytes())))


def test_a_bad_alignment_is_refused(tmp_path: Path) -> None:
    model = Model()
    model.keys.append(("general.alignment", U64, 3))
    assert "general.alignment 3" in str(refused(write(tmp_path, model.bytes())))


def test_deeply_nested_arrays_are_refused(tmp_path: Path) -> None:
    nested = struct.pack("<IQ", STRING, 0)
    for _ in range(12):
        nested = struct.pack("<IQ", ARRAY, 1) + nested
    model = Model()
    data = model.header()
    extra = string("x.nested") + struct.pack("<I", ARRAY) + nested
    count = struct.unpack("<Q", data[16:24])[0] + 1
    hostile = data[:16] + struct.pack("<Q", count) + data[24:]
    at = hostile.index(string("llama.attention.head_count")) + len(
        string("llama.attention.head_count")
    ) + 8  # fmt: skip
    hostile = hostile[:at] + extra + hostile[at:]
    assert "nests arrays" in str(refused(write(tmp_path, hostile)))


def test_not_a_file_is_refused(tmp_path: Path) -> None:
    assert "cannot be opened" in str(refused(tmp_path / "missing.gguf"))
    assert "is a directory" in str(refused(tmp_path))
    fifo = tmp_path / "fifo.gguf"
    os.mkfifo(fifo)
    assert "not a regular file" in str(refused(fifo))  # and the open did not hang
    assert "not a regular file" in str(refused(Path("/dev/zero")))


def test_a_socket_is_refused(tmp_path: Path) -> None:
    where = tmp_path / "s.gguf"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(where))
        assert "cannot be opened" in str(refused(where)) or "not a regular" in str(refused(where))
    finally:
        server.close()


def test_a_long_name_is_skipped_not_kept(tmp_path: Path) -> None:
    model = Model()
    model.keys[1] = ("general.name", STRING, "n" * 70_000)
    model.keys.append(("general.license", STRING, "l" * 200_000))
    info = read_gguf(write(tmp_path, model.bytes()))
    assert (info.architecture, info.name) == ("llama", None)


def test_hostile_lengths_cost_no_large_allocation(tmp_path: Path) -> None:
    import tracemalloc

    model = Model()
    model.keys.append(("tokenizer.ggml.tokens", ARRAY, (STRING, [f"t{i}" for i in range(50_000)])))
    big = write(tmp_path, model.bytes(), "vocab.gguf")
    data = Model().bytes()
    at = data.index(b"general.name") + len("general.name") + 4
    hostile = write(tmp_path, data[:at] + struct.pack("<Q", 2**62) + data[at + 8 :], "h.gguf")
    tracemalloc.start()
    try:
        assert read_gguf(big).tensor_count == 2  # 50 000 strings skipped, none kept
        with pytest.raises(ModelFileError):
            read_gguf(hostile)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
