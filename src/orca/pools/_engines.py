"""Engine adapters: how each inference engine is checked, started and named.

A pool runs one model on one engine. An adapter knows, for its engine, what must be
present (preflight), the command line of one replica, its environment (which GPU it
sees) and its version. Three provisioning modes:

- ``package``: a Python package Orca runs with this interpreter (llama-cpp-python's
  server, vLLM's OpenAI server);
- ``binary``: an executable at a path (llama.cpp's own ``llama-server``);
- ``external``: a server the operator runs; Orca starts nothing and only probes the URL.

Every engine serves the model under the pool's name (``--model_alias``, ``--alias``,
``--served-model-name``), so a call names the pool, whatever the file is called.
"""

from __future__ import annotations

import ctypes.util
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from orca.errors import ConfigError, closest

__all__ = [
    "ENGINES",
    "MODES",
    "PROVISIONS",
    "EngineAdapter",
    "LlamaCppPython",
    "LlamaServer",
    "PoolSpec",
    "Problem",
    "Vllm",
    "adapter",
    "gpu_driver_problems",
]

PROVISIONS = ("package", "binary", "external")
MODES = ("cpu", "gpu")


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """What a pool runs: one model file on one engine, in ``replicas`` processes.

    ``n_ctx`` is the context of one sequence; a replica holds ``slots`` of them at once
    (llama-server gets ``-c n_ctx*slots --parallel slots``). Values are checked when the
    spec is made: a bad one raises ConfigError naming the field.
    """

    name: str
    engine: str
    provision: str
    model_path: str
    model_digest: str
    replicas: int = 1
    slots: int = 1
    n_ctx: int = 2048
    mode: str = "cpu"
    binary: str | None = None
    urls: tuple[str, ...] = ()
    seed: int | None = None
    extra_args: tuple[str, ...] = field(default=())
    probe_deadline_s: float = 10.0
    start_deadline_s: float = 60.0

    def __post_init__(self) -> None:
        def bad(key: str, message: str, fix: str) -> ConfigError:
            return ConfigError(f"pool {self.name!r}: {message}", key=key, fix=fix)

        if not isinstance(self.name, str) or not self.name.strip():
            raise bad("name", "the pool needs a name", "give it a non-empty name")
        if self.provision not in PROVISIONS:
            raise bad(
                "provision",
                f"unknown provision {self.provision!r}{closest(str(self.provision), PROVISIONS)}",
                f"use one of {', '.join(PROVISIONS)}",
            )
        if self.mode not in MODES:
            raise bad("mode", f"unknown mode {self.mode!r}", "use 'cpu' or 'gpu'")
        for key, low, high in (("replicas", 1, 64), ("slots", 1, 1024), ("n_ctx", 16, 1 << 21)):
            value = getattr(self, key)
            if type(value) is not int or not low <= value <= high:
                raise bad(key, f"{key} is {value!r}", f"use a whole number from {low} to {high}")
        for key in ("probe_deadline_s", "start_deadline_s"):
            value = getattr(self, key)
            if type(value) not in (int, float) or not 0 < value <= 3600:
                raise bad(
                    key, f"{key} is {value!r}", "use a number of seconds above 0, at most 3600"
                )
        if self.seed is not None and (type(self.seed) is not int or not 0 <= self.seed < 2**32):
            raise bad("seed", f"seed is {self.seed!r}", "use a whole number from 0 to 2**32-1")
        if not all(isinstance(a, str) for a in self.extra_args):
            raise bad("extra_args", "extra_args must be strings", "quote each argument")


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that keeps an engine from starting here, and how to repair it."""

    message: str
    fix: str


class EngineAdapter(Protocol):
    """One engine's shape; a new engine is a new class here, not new branches elsewhere."""

    name: str
    provider: str  # the orca.llm provider preset that calls it
    provisions: tuple[str, ...]

    def preflight(self, spec: PoolSpec) -> list[Problem]: ...

    def command(self, spec: PoolSpec, *, port: int, device: int | None) -> list[str]: ...

    def environment(self, spec: PoolSpec, *, device: int | None) -> dict[str, str]: ...

    def version(self, spec: PoolSpec) -> str: ...


def gpu_driver_problems() -> list[Problem]:
    """Whether the NVIDIA driver is here: ``nvidia-smi`` on PATH or ``libcuda`` loadable."""
    if shutil.which("nvidia-smi") or ctypes.util.find_library("cuda"):
        return []
    return [
        Problem(
            "mode 'gpu' needs the NVIDIA driver, and neither nvidia-smi nor libcuda was found",
            "install the NVIDIA driver (nvidia-smi must work), or set mode = 'cpu' "
            "(development only: GPU mode never falls back to the CPU)",
        )
    ]


def _common_problems(spec: PoolSpec, adapter: EngineAdapter) -> list[Problem]:
    if spec.provision not in adapter.provisions:
        return [
            Problem(
                f"engine {adapter.name!r} has no provision {spec.provision!r}",
                f"use provision {' or '.join(repr(p) for p in adapter.provisions)}"
                + (", or engine 'llama-server' for a binary" if spec.provision == "binary" else ""),
            )
        ]
    if spec.provision == "external":
        problems = []
        if len(spec.urls) != spec.replicas:
            problems.append(
                Problem(
                    f"provision 'external' needs one URL per replica: {spec.replicas} "
                    f"replica(s), {len(spec.urls)} URL(s)",
                    "list each running server's base URL in urls (http://host:port)",
                )
            )
        for url in spec.urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                problems.append(
                    Problem(f"{url!r} is not an http(s) URL", "write it as http://host:port")
                )
        return problems
    if not os.path.isfile(spec.model_path):
        return [
            Problem(
                f"model file {spec.model_path!r} does not exist or is not a file",
                "give the path of a model file (orca model add PATH records one)",
            )
        ]
    if not os.access(spec.model_path, os.R_OK):
        return [Problem(f"model file {spec.model_path!r} is not readable", "chmod it readable")]
    return []


def _visible_devices(spec: PoolSpec, device: int | None) -> dict[str, str]:
    # CPU mode hides every GPU, so a CUDA build cannot use one behind our back
    if spec.mode == "cpu":
        return {"CUDA_VISIBLE_DEVICES": ""}
    return {"CUDA_VISIBLE_DEVICES": str(device)} if device is not None else {}


def _package_missing(modules: Sequence[str], install: str) -> list[Problem]:
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    if not absent:
        return []
    return [
        Problem(
            f"Python package(s) {', '.join(absent)} not importable by {sys.executable}",
            f"pip install {install!r} into that environment",
        )
    ]


def _package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


class LlamaCppPython:
    """llama.cpp through llama-cpp-python's OpenAI server (``python -m llama_cpp.server``).

    It answers one request at a time (a lock around the model), so its replicas have one
    slot each; more would only queue inside the engine."""

    name = "llamacpp"
    provider = "llamacpp-server"
    provisions: tuple[str, ...] = ("package", "external")
    # what llama-cpp-python[server] brings beside the binding
    _modules = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")

    def preflight(self, spec: PoolSpec) -> list[Problem]:
        problems = _common_problems(spec, self)
        if spec.slots != 1:
            problems.append(
                Problem(
                    f"engine 'llamacpp' serves one request at a time, and slots is {spec.slots}",
                    "set slots = 1 (add replicas for concurrency), or use engine 'llama-server' "
                    "for parallel slots",
                )
            )
        if spec.provision == "external":
            return problems
        missing = _package_missing(self._modules, "llama-cpp-python[server]")
        problems += missing
        if spec.mode == "gpu":
            problems += gpu_driver_problems()
            if not missing and not _llama_cpp_offloads():
                problems.append(
                    Problem(
                        "this llama-cpp-python was built without GPU offload",
                        "reinstall it built with CUDA: CMAKE_ARGS='-DGGML_CUDA=on' pip install "
                        "--force-reinstall --no-cache-dir 'llama-cpp-python[server]'",
                    )
                )
        return problems

    def command(self, spec: PoolSpec, *, port: int, device: int | None) -> list[str]:
        command = [sys.executable, "-m", "llama_cpp.server", "--model", spec.model_path]
        command += ["--model_alias", spec.name, "--host", "127.0.0.1", "--port", str(port)]
        command += ["--n_ctx", str(spec.n_ctx)]
        command += ["--n_gpu_layers", "-1" if spec.mode == "gpu" else "0"]
        if spec.seed is not None:
            command += ["--seed", str(spec.seed)]
        return [*command, *spec.extra_args]

    def environment(self, spec: PoolSpec, *, device: int | None) -> dict[str, str]:
        return {**_visible_devices(spec, device), "NO_COLOR": "1"}

    def version(self, spec: PoolSpec) -> str:
        return _package_version("llama-cpp-python")


def _llama_cpp_offloads() -> bool:
    """Whether the installed binding can offload to a GPU (asked in a child: importing it
    here would load its native library into the supervisor)."""
    probe = "import llama_cpp, sys; sys.exit(0 if llama_cpp.llama_supports_gpu_offload() else 3)"
    try:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class LlamaServer:
    """llama.cpp's own HTTP server binary (``llama-server``): parallel slots, one model."""

    name = "llama-server"
    provider = "llama-server"
    provisions: tuple[str, ...] = ("binary", "external")

    def executable(self, spec: PoolSpec) -> str | None:
        """The binary: ``spec.binary``, else ``llama-server`` on PATH."""
        return spec.binary or shutil.which("llama-server")

    def preflight(self, spec: PoolSpec) -> list[Problem]:
        problems = _common_problems(spec, self)
        if spec.provision == "external":
            return problems
        binary = self.executable(spec)
        build = (
            "build llama.cpp (cmake -B build [-DGGML_CUDA=ON] && cmake --build build "
            "--target llama-server) and set binary to build/bin/llama-server"
        )
        if binary is None:
            problems.append(Problem("no binary given and no llama-server on PATH", build))
        elif not os.path.isfile(binary):
            problems.append(Problem(f"binary {binary!r} does not exist or is not a file", build))
        elif not os.access(binary, os.X_OK):
            problems.append(Problem(f"binary {binary!r} is not executable", f"chmod +x {binary}"))
        if spec.mode == "gpu":
            problems += gpu_driver_problems()
        return problems

    def command(self, spec: PoolSpec, *, port: int, device: int | None) -> list[str]:
        binary = self.executable(spec) or "llama-server"
        command = [binary, "-m", spec.model_path, "--alias", spec.name]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        # -c is the whole KV cache, shared by the slots: each slot gets n_ctx
        command += ["-c", str(spec.n_ctx * spec.slots), "--parallel", str(spec.slots)]
        command += ["-ngl", "999" if spec.mode == "gpu" else "0"]
        if spec.seed is not None:
            command += ["--seed", str(spec.seed)]
        return [*command, *spec.extra_args]

    def environment(self, spec: PoolSpec, *, device: int | None) -> dict[str, str]:
        return _visible_devices(spec, device)

    def version(self, spec: PoolSpec) -> str:
        """The first line of ``llama-server --version`` naming the version (it prints
        ``version: 1234 (abcdef0)`` and the compiler), or ``unknown``."""
        binary = self.executable(spec)
        if binary is None:
            return "unknown"
        try:
            done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        lines = [ln.strip() for ln in (done.stdout + "\n" + done.stderr).splitlines()]
        lines = [ln for ln in lines if ln]
        named = [ln for ln in lines if ln.lower().startswith("version")]
        return (named or lines or ["unknown"])[0][:200]


class Vllm:
    """vLLM's OpenAI server (``python -m vllm.entrypoints.openai.api_server``): GPU only."""

    name = "vllm"
    provider = "vllm"
    provisions: tuple[str, ...] = ("package", "external")

    def preflight(self, spec: PoolSpec) -> list[Problem]:
        problems = _common_problems(spec, self)
        if spec.provision == "external":
            return problems
        if spec.mode == "cpu":
            problems.append(
                Problem(
                    "engine 'vllm' runs on NVIDIA GPUs only, and mode is 'cpu'",
                    "set mode = 'gpu' on a machine with a GPU, or use engine 'llamacpp' "
                    "for CPU mode",
                )
            )
        problems += _package_missing(("vllm",), "vllm")
        if spec.mode == "gpu":
            problems += gpu_driver_problems()
        return problems

    def command(self, spec: PoolSpec, *, port: int, device: int | None) -> list[str]:
        command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
        command += ["--model", spec.model_path, "--served-model-name", spec.name]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        command += ["--max-model-len", str(spec.n_ctx), "--max-num-seqs", str(spec.slots)]
        if spec.seed is not None:
            command += ["--seed", str(spec.seed)]
        return [*command, *spec.extra_args]

    def environment(self, spec: PoolSpec, *, device: int | None) -> dict[str, str]:
        return _visible_devices(spec, device)

    def version(self, spec: PoolSpec) -> str:
        return _package_version("vllm")


ENGINES: dict[str, EngineAdapter] = {a.name: a for a in (LlamaCppPython(), LlamaServer(), Vllm())}


def adapter(engine: str) -> EngineAdapter:
    """The adapter of an engine by name; an unknown one raises ConfigError naming the
    known ones."""
    try:
        return ENGINES[engine]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown engine {engine!r}{closest(str(engine), list(ENGINES))}",
            key="engine",
            fix=f"use one of {', '.join(sorted(ENGINES))}",
        ) from None
