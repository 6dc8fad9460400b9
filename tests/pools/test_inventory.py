"""The GPU inventory: nvidia-smi output of real formats, a fake nvidia-smi and a fake NVML
binding on this GPU-less machine (the machine's edge), and simulated inventories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from orca.errors import ConfigError, InvalidInputError
from orca.pools._inventory import (
    SIMULATED_GPUS_ENV,
    Device,
    Inventory,
    detect_inventory,
    parse_nvidia_smi,
    simulated_inventory,
)

FIXTURES = Path(__file__).parent / "nvidia_smi"
MIB = 1024 * 1024


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def _children() -> set[int]:
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


@pytest.fixture(autouse=True)
def no_child_left() -> Iterator[None]:
    before = _children()
    yield
    assert _children() - before == set()


@pytest.fixture
def no_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import pynvml` raise ImportError, whether or not the
    # real nvidia-ml-py is installed: the tests of nvidia-smi do not depend on the host
    monkeypatch.setitem(sys.modules, "pynvml", None)


def fake_smi(directory: Path, *, prints: str, status: int = 0, sleep: bool = False) -> Path:
    """An executable named nvidia-smi that prints ``prints`` and exits with ``status``;
    it writes the arguments it got next to itself."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "output.txt").write_text(prints)
    body = "exec /bin/sleep 60\n" if sleep else f"/bin/cat '{directory}/output.txt'\n"
    script = directory / "nvidia-smi"
    script.write_text(f"#!/bin/sh\necho \"$@\" > '{directory}/args.txt'\n{body}exit {status}\n")
    script.chmod(0o755)
    return directory


def env_with_path(directory: Path) -> dict[str, str]:
    return {"PATH": str(directory)}


# -- parsing nvidia-smi output -------------------------------------------------------------


def test_mixed_gpus_are_read_with_their_memory_in_bytes() -> None:
    devices = parse_nvidia_smi(fixture("mixed.txt"))
    assert [(d.index, d.name, d.total_bytes // MIB, d.free_bytes // MIB) for d in devices] == [
        (0, "NVIDIA GeForce RTX 4090", 24564, 23851),
        (1, "NVIDIA GeForce RTX 3070", 8192, 7968),
        (2, "NVIDIA GeForce RTX 3060", 12288, 12036),
    ]
    assert devices[0].uuid == "GPU-8c0e7a3b-2f41-6d9e-b5a7-13c2e9f0d4a1"


def test_one_gpu() -> None:
    (device,) = parse_nvidia_smi(fixture("one.txt"))
    assert device == Device(
        index=0,
        name="NVIDIA H100 80GB HBM3",
        uuid="GPU-3f9b2d7e-51a4-c8e0-7d26-9b1e4f0a8c35",
        total_bytes=81559 * MIB,
        free_bytes=81004 * MIB,
    )


def test_a_gpu_whose_memory_is_not_available_is_skipped_and_an_unknown_uuid_is_none() -> None:
    devices = parse_nvidia_smi(fixture("not_available.txt"))
    assert [d.index for d in devices] == [0, 2]
    assert devices[1].uuid is None
    assert devices[1].free_bytes == 22674 * MIB


def test_units_and_a_header_line_are_understood() -> None:
    (device,) = parse_nvidia_smi(fixture("with_units.txt"))
    assert (device.name, device.total_bytes, device.free_bytes) == (
        "Tesla T4",
        15360 * MIB,
        14930 * MIB,
    )


def test_the_five_column_query_of_the_interface_is_read_too() -> None:
    text = "0, NVIDIA GeForce RTX 4090, GPU-8c0e7a3b, 24564, 23851\n"
    assert parse_nvidia_smi(text)[0].free_bytes == 23851 * MIB


def test_garbage_lines_are_skipped_and_the_devices_among_them_kept() -> None:
    devices = parse_nvidia_smi(fixture("garbage.txt"))
    assert [d.index for d in devices] == [0]


def test_output_with_no_readable_device_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match=r"no GPU could be read.*line 1.*Fix: run"):
        parse_nvidia_smi(fixture("driver_missing.txt"))


def test_empty_output_lists_no_device() -> None:
    assert parse_nvidia_smi("") == ()
    assert parse_nvidia_smi("\n  \n") == ()


@pytest.mark.parametrize(
    "line",
    [
        "0, GPU, GPU-1, -5, 10",  # negative
        "0, GPU, GPU-1, 99999999999999, 10",  # absurd size
        "0, GPU, GPU-1, 0, 0",  # no memory at all
        "0, GPU, GPU-1, 12.5, 10",  # not whole MiB
        "-1, GPU, GPU-1, 1024, 10",  # negative index
        "99999, GPU, GPU-1, 1024, 10",  # absurd index
        "0, GPU, GPU-1, 1024, 10 GiB",  # wrong unit
        "0" * 10_000,  # one long field
    ],
)
def test_hostile_lines_are_refused(line: str) -> None:
    with pytest.raises(InvalidInputError, match="no GPU could be read"):
        parse_nvidia_smi(line)


def test_free_memory_above_the_total_is_capped_at_the_total() -> None:
    (device,) = parse_nvidia_smi("0, GPU, GPU-1, 1024, 4096\n")
    assert device.free_bytes == device.total_bytes == 1024 * MIB


def test_a_repeated_index_keeps_the_first_line() -> None:
    devices = parse_nvidia_smi("0, A, GPU-a, 1024, 1000\n0, B, GPU-b, 2048, 2000\n")
    assert [(d.index, d.name) for d in devices] == [(0, "A")]


# -- detection through a fake nvidia-smi ---------------------------------------------------


@pytest.mark.usefixtures("no_nvml")
def test_detection_runs_nvidia_smi_with_the_documented_query(tmp_path: Path) -> None:
    bin_dir = fake_smi(tmp_path / "bin", prints=fixture("mixed.txt"))
    inventory = detect_inventory(environ=env_with_path(bin_dir))
    assert inventory.source == "nvidia-smi"
    assert [d.total_bytes // MIB for d in inventory.devices] == [24564, 8192, 12288]
    assert inventory.driver_version == "550.54.14"
    args = (bin_dir / "args.txt").read_text().split()
    assert args == [
        "--query-gpu=index,name,uuid,memory.total,memory.free,driver_version",
        "--format=csv,noheader,nounits",
    ]
    assert any("nvidia-ml-py is not installed" in note for note in inventory.notes)


@pytest.mark.usefixtures("no_nvml")
def test_a_failing_nvidia_smi_means_no_gpu_and_keeps_the_reason(tmp_path: Path) -> None:
    bin_dir = fake_smi(tmp_path / "bin", prints=fixture("driver_missing.txt"), status=9)
    inventory = detect_inventory(environ=env_with_path(bin_dir))
    assert (inventory.source, inventory.devices) == ("none", ())
    (reason,) = [note for note in inventory.notes if note.startswith("nvidia-smi")]
    assert "exited with status 9" in reason
    assert "couldn't communicate with the NVIDIA driver" in reason


@pytest.mark.usefixtures("no_nvml")
def test_garbage_from_nvidia_smi_is_skipped_with_its_reason(tmp_path: Path) -> None:
    bin_dir = fake_smi(tmp_path / "bin", prints=fixture("garbage.txt"))
    inventory = detect_inventory(environ=env_with_path(bin_dir))
    assert [d.index for d in inventory.devices] == [0]
    skipped = [note for note in inventory.notes if "skipped" in note]
    assert len(skipped) == 3
    assert "line 1 skipped (1 fields, expected 5 or 6)" in skipped[0]
    assert "index 'x' is not a number" in skipped[1]
    assert "memory.total 'lots'" in skipped[2]


@pytest.mark.usefixtures("no_nvml")
def test_nvidia_smi_listing_nothing_readable_means_no_gpu(tmp_path: Path) -> None:
    bin_dir = fake_smi(tmp_path / "bin", prints="No devices were found\n")
    inventory = detect_inventory(environ=env_with_path(bin_dir))
    assert inventory.source == "none"
    assert any("lists no GPU" in note for note in inventory.notes)


@pytest.mark.usefixtures("no_nvml")
def test_a_hung_nvidia_smi_is_killed_and_means_no_gpu(tmp_path: Path) -> None:
    bin_dir = fake_smi(tmp_path / "bin", prints="", sleep=True)
    inventory = detect_inventory(environ=env_with_path(bin_dir), timeout_s=0.5)
    assert inventory.source == "none"
    assert any("no answer within 0.5 s" in note for note in inventory.notes)


@pytest.mark.usefixtures("no_nvml")
def test_without_nvidia_smi_there_is_no_gpu(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    inventory = detect_inventory(environ=env_with_path(tmp_path / "empty"))
    assert inventory == Inventory(devices=(), source="none", notes=inventory.notes)
    assert [note.split(":")[0] for note in inventory.notes] == ["nvml", "nvidia-smi"]
    assert "not on PATH" in inventory.notes[1]


# -- detection through a fake NVML binding --------------------------------------------------

FAKE_PYNVML = """
class NVMLError(Exception):
    pass

FAIL = {fail!r}

class _Memory:
    def __init__(self, total, free):
        self.total, self.free, self.used = total, free, total - free

_GPUS = [
    (b"NVIDIA GeForce RTX 4090", b"GPU-aaaa", 24 * 1024**3, 20 * 1024**3),
    ("NVIDIA GeForce RTX 3070", "GPU-bbbb", 8 * 1024**3, 8 * 1024**3),
]

def nvmlInit():
    if FAIL:
        raise NVMLError("Driver Not Loaded")

def nvmlShutdown():
    pass

def nvmlDeviceGetCount():
    return len(_GPUS)

def nvmlDeviceGetHandleByIndex(index):
    return _GPUS[index]

def nvmlDeviceGetName(handle):
    return handle[0]

def nvmlDeviceGetUUID(handle):
    return handle[1]

def nvmlDeviceGetMemoryInfo(handle):
    return _Memory(handle[2], handle[3])

def nvmlSystemGetDriverVersion():
    return "550.54.14"

def nvmlSystemGetCudaDriverVersion():
    return 12040
"""


def fake_nvml(monkeypatch: pytest.MonkeyPatch, directory: Path, *, fail: bool) -> None:
    directory.mkdir()
    (directory / "pynvml.py").write_text(textwrap.dedent(FAKE_PYNVML.format(fail=fail)))
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    monkeypatch.syspath_prepend(str(directory))


def test_nvml_is_asked_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_nvml(monkeypatch, tmp_path / "nvml", fail=False)
    bin_dir = fake_smi(tmp_path / "bin", prints=fixture("one.txt"))
    inventory = detect_inventory(environ=env_with_path(bin_dir))
    assert inventory.source == "nvml"
    assert inventory.devices == (
        Device(0, "NVIDIA GeForce RTX 4090", "GPU-aaaa", 24 * 1024**3, 20 * 1024**3),
        Device(1, "NVIDIA GeForce RTX 3070", "GPU-bbbb", 8 * 1024**3, 8 * 1024**3),
    )
    assert (inventory.driver_version, inventory.cuda_version) == ("550.54.14", "12.4")
    assert not (bin_dir / "args.txt").exists()


def test_nvml_without_a_driver_falls_through_to_nvidia_smi(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_nvml(monkeypatch, tmp_path / "nvml", fail=True)
    bin_dir = fake_smi(tmp_path / "bin", prints=fixture("one.txt"))
    inventory = detect_inventory(environ=env_with_path(bin_dir))
    assert inventory.source == "nvidia-smi"
    assert inventory.notes == ("nvml: cannot initialise NVML (Driver Not Loaded)",)


# -- simulated inventories -----------------------------------------------------------------

MIXED = [
    {"name": "RTX 4090", "total_mib": 24576},
    {"name": "RTX 3070", "total_mib": 8192, "free_mib": 8000},
    {"name": "RTX 3060", "total_mib": 12288, "uuid": "GPU-sim-2"},
]


def test_a_simulated_inventory_takes_positions_as_indexes_and_all_memory_as_free() -> None:
    inventory = simulated_inventory(MIXED)
    assert inventory.source == "simulated"
    assert inventory.devices == (
        Device(0, "RTX 4090", None, 24576 * MIB, 24576 * MIB),
        Device(1, "RTX 3070", None, 8192 * MIB, 8000 * MIB),
        Device(2, "RTX 3060", "GPU-sim-2", 12288 * MIB, 12288 * MIB),
    )


def test_explicit_indexes_are_kept_and_sorted() -> None:
    inventory = simulated_inventory(
        [{"name": "b", "total_mib": 10, "index": 3}, {"name": "a", "total_mib": 20, "index": 1}]
    )
    assert [(d.index, d.name) for d in inventory.devices] == [(1, "a"), (3, "b")]


def test_an_empty_simulated_inventory_is_a_host_without_gpu() -> None:
    assert simulated_inventory([]).devices == ()


def test_the_environment_variable_wins_over_config_and_hardware(tmp_path: Path) -> None:
    bin_dir = fake_smi(tmp_path / "bin", prints=fixture("mixed.txt"))
    environ = {**env_with_path(bin_dir), SIMULATED_GPUS_ENV: json.dumps(MIXED[:1])}
    inventory = detect_inventory(environ=environ, simulated=MIXED)
    assert [d.name for d in inventory.devices] == ["RTX 4090"]
    assert not (bin_dir / "args.txt").exists()


def test_config_simulation_is_used_when_the_variable_is_unset_or_blank(tmp_path: Path) -> None:
    for environ in ({}, {SIMULATED_GPUS_ENV: "  "}):
        inventory = detect_inventory(environ=environ, simulated=MIXED)
        assert [d.name for d in inventory.devices] == ["RTX 4090", "RTX 3070", "RTX 3060"]


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SIMULATED_GPUS_ENV, '[{"name": "sim", "total_mib": 1024}]')
    assert detect_inventory().devices == (Device(0, "sim", None, 1024 * MIB, 1024 * MIB),)
    assert os.environ[SIMULATED_GPUS_ENV]


def test_malformed_json_in_the_variable_names_it_and_the_fix() -> None:
    with pytest.raises(ConfigError, match="ORCA_SIMULATED_GPUS is not valid JSON") as caught:
        detect_inventory(environ={SIMULATED_GPUS_ENV: "[{name: 1}"})
    assert caught.value.key == SIMULATED_GPUS_ENV
    assert "total_mib" in caught.value.fix


@pytest.mark.parametrize(
    ("spec", "key", "says"),
    [
        ({"name": "x"}, "pools.simulate_gpus", "must be a list"),
        ("RTX 4090", "pools.simulate_gpus", "must be a list"),
        ([42], "pools.simulate_gpus[0]", "must be a table"),
        ([{"total_mib": 10}], "pools.simulate_gpus[0].name", "must be a GPU's name"),
        ([{"name": "  ", "total_mib": 10}], "pools.simulate_gpus[0].name", "GPU's name"),
        ([{"name": "a"}], "pools.simulate_gpus[0].total_mib", "whole number of MiB"),
        ([{"name": "a", "total_mib": "24G"}], "pools.simulate_gpus[0].total_mib", "got '24G'"),
        ([{"name": "a", "total_mib": 1.5}], "pools.simulate_gpus[0].total_mib", "got 1.5"),
        ([{"name": "a", "total_mib": True}], "pools.simulate_gpus[0].total_mib", "got True"),
        ([{"name": "a", "total_mib": 0}], "pools.simulate_gpus[0].total_mib", "from 1"),
        ([{"name": "a", "total_mib": 10**30}], "pools.simulate_gpus[0].total_mib", "to 16777216"),
        ([{"name": "a", "total_mib": 10, "free_mib": -1}], "pools.simulate_gpus[0].free_mib", ""),
        (
            [{"name": "a", "total_mib": 10, "free_mib": 11}],
            "pools.simulate_gpus[0].free_mib",
            "more than total_mib",
        ),
        ([{"name": "a", "total_mib": 10, "index": -1}], "pools.simulate_gpus[0].index", ""),
        ([{"name": "a", "total_mib": 10, "index": "0"}], "pools.simulate_gpus[0].index", ""),
        (
            [{"name": "a", "total_mib": 10}, {"name": "b", "total_mib": 10, "index": 0}],
            "pools.simulate_gpus[1].index",
            "used twice",
        ),
        ([{"name": "a", "total_mib": 10, "uuid": 7}], "pools.simulate_gpus[0].uuid", ""),
        (
            [{"name": "a", "total_mb": 10}],
            "pools.simulate_gpus[0].total_mb",
            "did you mean 'total_mib'",
        ),
        ([{"name": "a", "total_mib": 1}] * 65, "pools.simulate_gpus", "more than 64"),
    ],
)
def test_a_malformed_simulation_names_the_field_and_the_fix(
    spec: object, key: str, says: str
) -> None:
    with pytest.raises(ConfigError, match="Fix: ") as caught:
        simulated_inventory(spec)  # type: ignore[arg-type]
    assert caught.value.key == key
    assert says in str(caught.value)


def test_the_variable_is_named_in_errors_from_the_environment() -> None:
    with pytest.raises(ConfigError) as caught:
        detect_inventory(environ={SIMULATED_GPUS_ENV: '[{"name": "a", "total_mib": -3}]'})
    assert caught.value.key == "ORCA_SIMULATED_GPUS[0].total_mib"


# -- on a real GPU (benchmarks/gpu_check.sh sets ORCA_REQUIRE_GPU) ---------------------------


@pytest.mark.gpu
def test_the_real_gpus_are_found_as_nvidia_smi_lists_them() -> None:
    if shutil.which("nvidia-smi") is None and not os.environ.get("ORCA_REQUIRE_GPU"):
        pytest.skip("no NVIDIA GPU on this machine")
    real_env = {k: v for k, v in os.environ.items() if k != SIMULATED_GPUS_ENV}
    inventory = detect_inventory(environ=real_env)
    assert inventory.source in ("nvml", "nvidia-smi"), inventory.notes
    listed = subprocess.run(
        [
            "nvidia-smi",
            "--query-gpu=index,name,uuid,memory.total,memory.free",
            "--format=csv,noheader,nounits",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    expected = parse_nvidia_smi(listed)
    assert expected
    assert [(d.index, d.uuid, d.total_bytes // MIB) for d in inventory.devices] == [
        (d.index, d.uuid, d.total_bytes // MIB) for d in expected
    ]
