"""Engine adapters: command lines, environments, versions and preflight problems.

The machine's edge is faked where it must be: ``llama-server`` and ``nvidia-smi`` are not
installed here, so small executables stand in for them on PATH."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import stat
import sys
from pathlib import Path

import pytest

from orca.errors import ConfigError
from orca.pools._engines import (
    ENGINES,
    LlamaServer,
    PoolSpec,
    Problem,
    adapter,
    gpu_driver_problems,
)

HAS_DRIVER = not gpu_driver_problems()


def _spec(model: Path, **fields: object) -> PoolSpec:
    values: dict[str, object] = {
        "name": "tiny",
        "engine": "llamacpp",
        "provision": "package",
        "model_path": str(model),
        "model_digest": "sha256:" + "0" * 64,
    }
    values.update(fields)
    return PoolSpec(**values)  # type: ignore[arg-type]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 60)
    return path


def _executable(path: Path, script: str) -> Path:
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _messages(problems: list[Problem]) -> str:
    return " | ".join(f"{p.message} -> {p.fix}" for p in problems)


# -- the registry ---------------------------------------------------------------------------


def test_the_three_engines_name_their_provider_preset() -> None:
    from orca.llm.providers.openai import PRESETS

    assert sorted(ENGINES) == ["llama-server", "llamacpp", "vllm"]
    for engine in ENGINES.values():
        assert engine.provider in PRESETS, engine.name


def test_an_unknown_engine_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        adapter("llama-serve")
    assert caught.value.key == "engine"
    assert "did you mean 'llama-server'" in str(caught.value)
    assert caught.value.fix == "use one of llama-server, llamacpp, vllm"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("replicas", 0),
        ("replicas", 10_000),
        ("slots", 0),
        ("slots", True),
        ("n_ctx", "2048"),
        ("mode", "tpu"),
        ("provision", "docker"),
        ("probe_deadline_s", 0),
        ("start_deadline_s", -1.0),
        ("seed", -1),
        ("name", " "),
    ],
)
def test_a_bad_spec_value_is_refused_naming_its_field(
    model: Path, field: str, value: object
) -> None:
    with pytest.raises(ConfigError) as caught:
        _spec(model, **{field: value})
    assert caught.value.key == field
    assert caught.value.fix


# -- llamacpp (llama-cpp-python's server) ------------------------------------------------------


def test_llamacpp_runs_the_package_server_on_loopback_in_cpu_mode(model: Path) -> None:
    spec = _spec(model, n_ctx=512, seed=7, extra_args=("--n_threads", "1"))
    command = ENGINES["llamacpp"].command(spec, port=8123, device=None)
    assert command[:3] == [sys.executable, "-m", "llama_cpp.server"]
    flags = dict(zip(command[3::2], command[4::2], strict=True))
    assert flags == {
        "--model": str(model),
        "--model_alias": "tiny",
        "--host": "127.0.0.1",
        "--port": "8123",
        "--n_ctx": "512",
        "--n_gpu_layers": "0",
        "--seed": "7",
        "--n_threads": "1",
    }
    assert ENGINES["llamacpp"].environment(spec, device=None)["CUDA_VISIBLE_DEVICES"] == ""


def test_llamacpp_offloads_every_layer_to_its_device_in_gpu_mode(model: Path) -> None:
    spec = _spec(model, mode="gpu")
    command = ENGINES["llamacpp"].command(spec, port=9000, device=1)
    assert command[command.index("--n_gpu_layers") + 1] == "-1"
    assert "--seed" not in command
    assert ENGINES["llamacpp"].environment(spec, device=1)["CUDA_VISIBLE_DEVICES"] == "1"


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python")
def test_llamacpp_passes_preflight_here_and_reports_its_package_version(model: Path) -> None:
    spec = _spec(model)
    assert ENGINES["llamacpp"].preflight(spec) == []
    assert ENGINES["llamacpp"].version(spec) == importlib.metadata.version("llama-cpp-python")


def test_llamacpp_refuses_more_than_one_slot(model: Path) -> None:
    problems = ENGINES["llamacpp"].preflight(_spec(model, slots=4))
    assert len(problems) == 1
    assert "one request at a time, and slots is 4" in problems[0].message
    assert "slots = 1" in problems[0].fix
    assert "llama-server" in problems[0].fix


def test_llamacpp_has_no_binary_provision(model: Path) -> None:
    problems = ENGINES["llamacpp"].preflight(_spec(model, provision="binary"))
    assert "no provision 'binary'" in _messages(problems)
    assert "engine 'llama-server' for a binary" in problems[0].fix


def test_a_missing_model_file_is_a_problem(tmp_path: Path) -> None:
    problems = ENGINES["llamacpp"].preflight(_spec(tmp_path / "gone.gguf"))
    assert [p.message for p in problems] == [
        f"model file {str(tmp_path / 'gone.gguf')!r} does not exist or is not a file"
    ]


@pytest.mark.skipif(HAS_DRIVER, reason="this machine has an NVIDIA driver")
def test_gpu_mode_without_a_driver_is_a_problem_with_its_fix(model: Path) -> None:
    text = _messages(ENGINES["llamacpp"].preflight(_spec(model, mode="gpu")))
    assert "needs the NVIDIA driver, and neither nvidia-smi nor libcuda was found" in text
    assert "never falls back to the CPU" in text


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python")
def test_gpu_mode_with_a_cpu_only_build_is_a_problem(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    if llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama-cpp-python offloads to GPUs")
    # a driver answers (nvidia-smi on PATH), so the build is what is left to refuse
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "nvidia-smi", "echo 'NVIDIA-SMI 550.54'\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    problems = ENGINES["llamacpp"].preflight(_spec(model, mode="gpu"))
    assert [p.message for p in problems] == ["this llama-cpp-python was built without GPU offload"]
    assert "-DGGML_CUDA=on" in problems[0].fix


def test_an_nvidia_smi_on_path_counts_as_the_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _executable(tmp_path / "nvidia-smi", "exit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gpu_driver_problems() == []


# -- llama-server (llama.cpp's binary) ----------------------------------------------------------


def test_llama_server_gives_each_slot_the_context_and_all_layers_in_gpu_mode(
    model: Path, tmp_path: Path
) -> None:
    binary = _executable(tmp_path / "llama-server", "exit 0\n")
    spec = _spec(
        model, engine="llama-server", provision="binary", binary=str(binary), slots=4, n_ctx=1024
    )
    command = ENGINES["llama-server"].command(spec, port=8080, device=None)
    assert command[0] == str(binary)
    flags = dict(zip(command[1::2], command[2::2], strict=True))
    assert flags == {
        "-m": str(model),
        "--alias": "tiny",
        "--host": "127.0.0.1",
        "--port": "8080",
        "-c": "4096",
        "--parallel": "4",
        "-ngl": "0",
    }
    gpu = _spec(model, engine="llama-server", provision="binary", binary=str(binary), mode="gpu")
    command = ENGINES["llama-server"].command(gpu, port=8080, device=0)
    assert command[command.index("-ngl") + 1] == "999"
    assert ENGINES["llama-server"].environment(gpu, device=0) == {"CUDA_VISIBLE_DEVICES": "0"}


def test_llama_server_is_found_on_path_and_reports_its_version(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _executable(
        tmp_path / "llama-server",
        "echo 'version: 4567 (0abc123)' >&2\necho 'built with cc 12 for x86_64' >&2\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    spec = _spec(model, engine="llama-server", provision="binary")
    engine = ENGINES["llama-server"]
    assert engine.preflight(spec) == []
    assert engine.command(spec, port=1, device=None)[0] == str(tmp_path / "llama-server")
    assert engine.version(spec) == "version: 4567 (0abc123)"


def test_llama_server_missing_or_not_executable_is_a_problem_with_the_build_fix(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    engine = ENGINES["llama-server"]
    none = engine.preflight(_spec(model, engine="llama-server", provision="binary"))
    assert [p.message for p in none] == ["no binary given and no llama-server on PATH"]
    assert "cmake --build build --target llama-server" in none[0].fix
    assert engine.version(_spec(model, engine="llama-server", provision="binary")) == "unknown"

    plain = tmp_path / "llama-server"
    plain.write_text("not a program")
    spec = _spec(model, engine="llama-server", provision="binary", binary=str(plain))
    problems = engine.preflight(spec)
    assert [p.message for p in problems] == [f"binary {str(plain)!r} is not executable"]
    assert problems[0].fix == f"chmod +x {plain}"

    spec = _spec(model, engine="llama-server", provision="binary", binary=str(tmp_path))
    assert "does not exist or is not a file" in _messages(engine.preflight(spec))


def test_llama_server_has_no_package_provision(model: Path) -> None:
    problems = LlamaServer().preflight(_spec(model, engine="llama-server", provision="package"))
    assert "engine 'llama-server' has no provision 'package'" in _messages(problems)


# -- vllm ----------------------------------------------------------------------------------------


def test_vllm_refuses_cpu_mode(model: Path) -> None:
    problems = ENGINES["vllm"].preflight(_spec(model, engine="vllm"))
    text = _messages(problems)
    assert "engine 'vllm' runs on NVIDIA GPUs only, and mode is 'cpu'" in text
    if importlib.util.find_spec("vllm") is None:
        assert "vllm not importable" in text
        assert "pip install 'vllm'" in text


def test_vllm_serves_the_pool_name_with_its_slots_as_sequences(model: Path) -> None:
    spec = _spec(model, engine="vllm", mode="gpu", slots=8, n_ctx=4096, seed=3)
    command = ENGINES["vllm"].command(spec, port=8000, device=2)
    assert command[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    flags = dict(zip(command[3::2], command[4::2], strict=True))
    assert flags["--served-model-name"] == "tiny"
    assert flags["--max-model-len"] == "4096"
    assert flags["--max-num-seqs"] == "8"
    assert flags["--seed"] == "3"
    assert ENGINES["vllm"].environment(spec, device=2) == {"CUDA_VISIBLE_DEVICES": "2"}


# -- external ------------------------------------------------------------------------------------


def test_external_needs_one_http_url_per_replica_and_no_model_file(tmp_path: Path) -> None:
    absent = tmp_path / "not-here.gguf"  # the operator's server has the model, not us
    good = _spec(absent, provision="external", replicas=2, urls=("http://a:1", "http://b:2/v1"))
    for engine in ENGINES.values():
        assert engine.preflight(good) == [], engine.name
    bad = _spec(absent, provision="external", replicas=2, urls=("ftp://a:1",))
    text = _messages(ENGINES["llamacpp"].preflight(bad))
    assert "one URL per replica: 2 replica(s), 1 URL(s)" in text
    assert "'ftp://a:1' is not an http(s) URL" in text
