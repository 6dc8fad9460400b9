"""Generate a tiny, random-weight LLaMA model in GGUF format.

The model exists so that tests and the demo can drive a *real* llama.cpp
engine (tokenizer, sampler, streaming, chat template) without downloading
anything. Its weights are seeded noise, so its output is word salad, but the
salad is reproducible: the same seed always yields the same file, byte for
byte, and llama.cpp given the same sampling seed yields the same tokens.

Usage::

    python -m orca.llm.tiny PATH [--seed N]

The ``gguf`` and ``numpy`` packages are needed to *write* the file; they are
imported lazily so that importing this module costs nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "CHAT_TEMPLATE",
    "TINY_MODEL_PARAMS",
    "default_model_path",
    "ensure_tiny_model",
    "main",
    "write_tiny_model",
]

# Hyperparameters. Small enough that the file stays around half a megabyte and
# loads in milliseconds; the context is generous so that prompts plus ~64
# generated tokens never come close to the limit.
FORMAT = 1  # bump when the generator's output changes
N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
N_HEAD_KV = 4
N_FF = 128
N_CTX = 2048
ROPE_FREQ_BASE = 10000.0
RMS_EPS = 1e-5
WEIGHT_STD = 0.02
# Spread of the output projection: enough to vary the next word with context,
# not so much that one word dominates every step.
OUTPUT_STD = 0.5

TINY_MODEL_PARAMS: dict[str, int | float] = {
    "n_embd": N_EMBD,
    "n_layer": N_LAYER,
    "n_head": N_HEAD,
    "n_head_kv": N_HEAD_KV,
    "n_ff": N_FF,
    "n_ctx_train": N_CTX,
    "rope_freq_base": ROPE_FREQ_BASE,
    "rms_eps": RMS_EPS,
}

# This is, character for character, llama-cpp-python's CHATML_CHAT_TEMPLATE.
# Matching it exactly lets llama-cpp-python recognise the template and pick its
# built-in "chatml" handler (which stops on "<|im_end|>") without being told.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# SentencePiece marks a word boundary with U+2581 instead of a space.
_SPACE = "\u2581"

# Printable pieces the model is nudged towards, so that sampled text reads as
# (nonsense) English instead of raw bytes. Order matters only for stability.
_WORD_TEXT = """
the of and to in is it that for on with as was be at by this we you not are or from
but all can one will has more new time data graph node state step run agent tool plan
task check point ok yes no hello world orca model token stream cost
"""
_WORDS = tuple(_WORD_TEXT.split())
_PUNCT = (".", ",", "!", "?", ":", "-")

# Fixed token ids; _vocabulary() lays the pieces out in exactly this order.
_UNK_ID = 0
_BOS_ID = 1
_EOS_SP_ID = 2  # "</s>": kept for SentencePiece convention, never the stop token
_BYTE_BASE = 3
_IM_START_ID = _BYTE_BASE + 256
_IM_END_ID = _IM_START_ID + 1
_FIRST_NORMAL_ID = _IM_END_ID + 1

# Token types as defined by GGUF (gguf.TokenType), repeated here so that the
# vocabulary can be built without importing gguf.
_TYPE_NORMAL = 1
_TYPE_UNKNOWN = 2
_TYPE_CONTROL = 3
_TYPE_BYTE = 6


def _vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Return (pieces, scores, types) of the byte-fallback SentencePiece vocabulary."""
    pieces: list[str] = ["<unk>", "<s>", "</s>"]
    types: list[int] = [_TYPE_UNKNOWN, _TYPE_CONTROL, _TYPE_CONTROL]
    pieces += [f"<0x{b:02X}>" for b in range(256)]
    types += [_TYPE_BYTE] * 256
    pieces += ["<|im_start|>", "<|im_end|>"]
    types += [_TYPE_CONTROL, _TYPE_CONTROL]
    assert len(pieces) == _FIRST_NORMAL_ID

    normal = [_SPACE]
    normal += [_SPACE + w for w in _WORDS]
    normal += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    normal += [str(d) for d in range(10)]
    normal += list(_PUNCT)
    pieces += normal
    types += [_TYPE_NORMAL] * len(normal)

    # Scores only steer SentencePiece merges, which join two adjacent pieces
    # when the joined text is itself a piece. There are no partial words here,
    # so input text tokenises to "▁", letters, digits, punctuation and byte
    # fallbacks; the whole-word pieces exist for the model to *emit*. Longer
    # pieces score higher, as in real vocabularies; specials and bytes score 0.
    scores = [0.0] * _FIRST_NORMAL_ID
    scores += [float(len(p)) - 10.0 for p in normal]
    return pieces, scores, types


def _weights(seed: int, n_vocab: int) -> list[tuple[str, npt.NDArray[np.float32]]]:
    """Build the tensors, in llama.cpp's LLaMA naming and PyTorch-style (out, in) shapes.

    gguf-py reverses numpy's row-major shape into ggml's ``ne`` order, so an
    ``(out_features, in_features)`` array is exactly what llama.cpp expects for
    every projection, and ``(n_vocab, n_embd)`` for the embedding and output.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    head_dim = N_EMBD // N_HEAD

    def normal(*shape: int, std: float = WEIGHT_STD) -> npt.NDArray[np.float32]:
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def ones(n: int) -> npt.NDArray[np.float32]:
        return np.ones(n, dtype=np.float32)

    # Channel 0 of every embedding holds a constant, and the tiny residual
    # updates barely disturb it, so after the final RMS norm it is a large,
    # near-constant feature. Its weight in output.weight therefore acts as a
    # per-token logit bias (llama has no output bias tensor). This keeps
    # samples on the printable word pieces and keeps control tokens (including
    # the end-of-turn token) from ever being sampled, so generation length is
    # governed by max_tokens alone.
    embd = normal(n_vocab, N_EMBD)
    embd[:, 0] = 1.0
    # With channel 0 at 1.0 and the rest at ~WEIGHT_STD, the normalised
    # channel 0 is about sqrt(N_EMBD) = 8; divide the wanted logit bias by it.
    feature = float(np.sqrt(N_EMBD))
    output = normal(n_vocab, N_EMBD, std=OUTPUT_STD)
    bias = np.full(n_vocab, -8.0, dtype=np.float32)  # bytes
    # Bare letters and digits would glue onto the previous word ("statea"),
    # so only whole words are favoured; the rest stay possible but rare.
    bias[_FIRST_NORMAL_ID:] = 0.0
    bias[_FIRST_NORMAL_ID + 1 : _FIRST_NORMAL_ID + 1 + len(_WORDS)] = 4.0
    bias[[_UNK_ID, _BOS_ID, _EOS_SP_ID, _IM_START_ID, _IM_END_ID]] = -30.0  # control
    output[:, 0] = bias / feature

    tensors: list[tuple[str, npt.NDArray[np.float32]]] = [("token_embd.weight", embd)]
    for i in range(N_LAYER):
        blk = f"blk.{i}"
        tensors += [
            (f"{blk}.attn_norm.weight", ones(N_EMBD)),
            (f"{blk}.attn_q.weight", normal(N_HEAD * head_dim, N_EMBD)),
            (f"{blk}.attn_k.weight", normal(N_HEAD_KV * head_dim, N_EMBD)),
            (f"{blk}.attn_v.weight", normal(N_HEAD_KV * head_dim, N_EMBD)),
            (f"{blk}.attn_output.weight", normal(N_EMBD, N_HEAD * head_dim)),
            (f"{blk}.ffn_norm.weight", ones(N_EMBD)),
            (f"{blk}.ffn_gate.weight", normal(N_FF, N_EMBD)),
            (f"{blk}.ffn_up.weight", normal(N_FF, N_EMBD)),
            (f"{blk}.ffn_down.weight", normal(N_EMBD, N_FF)),
        ]
    tensors += [
        ("output_norm.weight", ones(N_EMBD)),
        ("output.weight", output),
    ]
    return tensors


def write_tiny_model(path: str | os.PathLike[str], *, seed: int = 0) -> pathlib.Path:
    """Write the tiny LLaMA GGUF model for ``seed`` to ``path`` and return the path.

    The output is a pure function of ``seed``: no timestamps, UUIDs or host
    details are recorded, so equal seeds give byte-identical files. The file
    is written in place; use :func:`ensure_tiny_model` for an atomic,
    cached write.
    """
    import gguf

    out = pathlib.Path(path)
    pieces, scores, types = _vocabulary()
    head_dim = N_EMBD // N_HEAD

    # GGUFWriter adds general.architecture itself and nothing else implicit;
    # every other key below is explicit and deterministic.
    writer = gguf.GGUFWriter(out, "llama")
    writer.add_name(f"orca-tiny-{seed}")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(len(pieces))
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(ROPE_FREQ_BASE)
    writer.add_layer_norm_rms_eps(RMS_EPS)

    writer.add_tokenizer_model("llama")
    writer.add_token_list(pieces)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(_UNK_ID)
    writer.add_bos_token_id(_BOS_ID)
    # The end-of-turn token doubles as EOS so that llama.cpp's end-of-generation
    # check and ChatML's "<|im_end|>" stop string agree.
    writer.add_eos_token_id(_IM_END_ID)
    writer.add_eot_token_id(_IM_END_ID)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    for name, array in _weights(seed, len(pieces)):
        writer.add_tensor(name, array)

    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return out


def _orca_home() -> pathlib.Path:
    env = os.environ.get("ORCA_HOME")
    return pathlib.Path(env) if env else pathlib.Path.home() / ".orca"


def default_model_path(seed: int = 0) -> pathlib.Path:
    """Return the cache location ``$ORCA_HOME/models/orca-tiny-v<FORMAT>-<seed>.gguf``
    (the format version changes whenever the generator does, so a stale file is never
    reused).

    ``ORCA_HOME`` defaults to ``~/.orca``. Nothing is created.
    """
    return _orca_home() / "models" / f"orca-tiny-v{FORMAT}-{seed}.gguf"


def ensure_tiny_model(seed: int = 0, path: str | os.PathLike[str] | None = None) -> pathlib.Path:
    """Return the path of the tiny model for ``seed``, generating it if missing.

    ``path`` defaults to :func:`default_model_path`. The file is written to a
    temporary name in the same directory and renamed into place, so readers
    never see a partial file and concurrent callers merely race to install
    identical bytes.
    """
    target = pathlib.Path(path) if path is not None else default_model_path(seed)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write_tiny_model(tmp_name, seed=seed)
        # mkstemp creates the file private (0600); a shared cache should be readable.
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: write the tiny model to PATH."""
    parser = argparse.ArgumentParser(
        prog="python -m orca.llm.tiny",
        description="Write a tiny random-weight LLaMA GGUF model (deterministic per seed).",
    )
    parser.add_argument("path", help="where to write the .gguf file")
    parser.add_argument("--seed", type=int, default=0, help="weight seed (default: 0)")
    args = parser.parse_args(argv)
    out = write_tiny_model(args.path, seed=args.seed)
    print(f"{out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
