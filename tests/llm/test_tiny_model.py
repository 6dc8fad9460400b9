"""The generated tiny GGUF model: deterministic bytes, small, and loadable by llama.cpp."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

# Writing the model needs gguf and numpy; they are optional extras.
pytest.importorskip("numpy")
gguf = pytest.importorskip("gguf")

from orca.llm.tiny import (  # noqa: E402
    FORMAT,
    default_model_path,
    ensure_tiny_model,
    main,
    write_tiny_model,
)

MAX_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-0.gguf", seed=0)


def test_same_seed_gives_identical_bytes(tmp_path: Path, model_path: Path) -> None:
    again = write_tiny_model(tmp_path / "again.gguf", seed=0)
    assert again.read_bytes() == model_path.read_bytes()


def test_different_seed_gives_different_bytes(tmp_path: Path, model_path: Path) -> None:
    other = write_tiny_model(tmp_path / "other.gguf", seed=1)
    assert other.read_bytes() != model_path.read_bytes()


def test_file_is_small(model_path: Path) -> None:
    assert 0 < model_path.stat().st_size < MAX_BYTES


def test_metadata_describes_a_chatml_llama(model_path: Path) -> None:
    reader = gguf.GGUFReader(model_path)
    fields = {name: field.contents() for name, field in reader.fields.items()}
    assert fields["general.architecture"] == "llama"
    assert fields["tokenizer.ggml.model"] == "llama"
    tokens = fields["tokenizer.ggml.tokens"]
    assert tokens[fields["tokenizer.ggml.eos_token_id"]] == "<|im_end|>"
    assert tokens[fields["tokenizer.ggml.bos_token_id"]] == "<s>"
    assert "<|im_start|>" in tokens
    assert "<0x0A>" in tokens
    assert "add_generation_prompt" in fields["tokenizer.chat_template"]
    # Nothing that varies between runs (dates, UUIDs, hosts) may leak into the file.
    general = {name for name in fields if name.startswith("general.")}
    assert general == {"general.architecture", "general.name", "general.file_type"}


def test_default_path_honours_orca_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCA_HOME", str(tmp_path))
    assert default_model_path(3) == tmp_path / "models" / f"orca-tiny-v{FORMAT}-3.gguf"
    monkeypatch.delenv("ORCA_HOME")
    assert default_model_path() == Path.home() / ".orca" / "models" / f"orca-tiny-v{FORMAT}-0.gguf"


def test_ensure_generates_once_and_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_path: Path
) -> None:
    monkeypatch.setenv("ORCA_HOME", str(tmp_path))
    first = ensure_tiny_model()
    assert first == tmp_path / "models" / f"orca-tiny-v{FORMAT}-0.gguf"
    assert first.read_bytes() == model_path.read_bytes()
    stamp = first.stat().st_mtime_ns
    assert ensure_tiny_model() == first
    assert first.stat().st_mtime_ns == stamp  # cached, not rewritten
    assert os.listdir(first.parent) == [first.name]

    explicit = ensure_tiny_model(seed=0, path=tmp_path / "elsewhere" / "m.gguf")
    assert explicit.read_bytes() == model_path.read_bytes()


def test_cli_writes_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model_path: Path
) -> None:
    out = tmp_path / "cli.gguf"
    assert main([str(out), "--seed", "0"]) == 0
    assert str(out) in capsys.readouterr().out
    assert out.read_bytes() == model_path.read_bytes()


# --- A real llama.cpp engine -------------------------------------------------------------


@pytest.fixture(scope="module")
def llm(model_path: Path) -> Any:
    llama_cpp = pytest.importorskip("llama_cpp")
    engine = llama_cpp.Llama(model_path=str(model_path), n_ctx=1024, seed=0, verbose=False)
    yield engine
    engine.close()  # now, not at interpreter exit (where its finaliser errors)


def stream_text(llm: Any, seed: int, max_tokens: int = 32) -> tuple[str, int]:
    chunks = llm.create_chat_completion(
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello."},
        ],
        max_tokens=max_tokens,
        seed=seed,
        temperature=0.8,
        stream=True,
    )
    parts: list[str] = []
    n_chunks = 0
    for chunk in chunks:
        n_chunks += 1
        parts.append(chunk["choices"][0]["delta"].get("content") or "")
    return "".join(parts), n_chunks


def test_llama_cpp_recognises_chatml(llm: Any) -> None:
    # The template is llama-cpp-python's own ChatML text, so it is matched exactly and
    # the built-in handler (which stops on "<|im_end|>") is used.
    assert llm.chat_format == "chatml"
    assert llm.detokenize([llm.token_eos()], special=True) == b"<|im_end|>"


def test_llama_cpp_tokenizes(llm: Any) -> None:
    tokens = llm.tokenize(b"hello")
    assert tokens[0] == llm.token_bos()
    assert llm.detokenize(tokens[1:]).strip() == b"hello"


def test_llama_cpp_streams_reproducibly(llm: Any) -> None:
    text, n_chunks = stream_text(llm, seed=7)
    assert n_chunks > 2  # role chunk, content chunks, final chunk
    assert text.strip()
    assert text.isprintable()
    again, _ = stream_text(llm, seed=7)
    assert again == text
    other, _ = stream_text(llm, seed=8)
    assert other != text
