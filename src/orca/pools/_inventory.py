"""The GPUs of this host: NVML, else ``nvidia-smi``, else none; or a simulated inventory.

Detection never raises for a host without a GPU: it answers source ``"none"`` and keeps
each reason in ``Inventory.notes`` (``orca doctor`` shows them). A simulated inventory
(``[pools] simulate_gpus`` in config, or ``ORCA_SIMULATED_GPUS`` as JSON) stands in for
the hardware on machines without one, such as CI; its fields are validated strictly.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orca.errors import ConfigError, InvalidInputError, closest

__all__ = [
    "SIMULATED_GPUS_ENV",
    "Device",
    "Inventory",
    "detect_inventory",
    "parse_nvidia_smi",
    "simulated_inventory",
]

MIB = 1024 * 1024
SIMULATED_GPUS_ENV = "ORCA_SIMULATED_GPUS"
NVIDIA_SMI_QUERY = "index,name,uuid,memory.total,memory.free,driver_version"
# no real GPU has 16 TiB or a host 64 of them: beyond that a number is a typo or hostile
_MAX_MIB = 16 * 1024 * 1024
_MAX_DEVICES = 64
_NA = {"[n/a]", "n/a", "[not supported]", "[unknown error]", "[insufficient permissions]", ""}
_SIMULATED_KEYS = ("index", "name", "uuid", "total_mib", "free_mib")


@dataclass(frozen=True, slots=True)
class Device:
    """One GPU: its index, name, UUID and memory in bytes.

    The index is NVML's and nvidia-smi's, in PCI bus order. CUDA numbers GPUs fastest
    first unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``: an engine pinned to a device gets
    that variable with ``CUDA_VISIBLE_DEVICES`` (or the UUID, which needs neither)."""

    index: int
    name: str
    uuid: str | None
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True, slots=True)
class Inventory:
    """The GPUs found and where they were found: ``"nvml"``, ``"nvidia-smi"``,
    ``"simulated"`` or ``"none"``. ``notes`` says why a source was passed over or a
    device skipped (a missing driver, an unreadable line), for ``orca doctor``."""

    devices: tuple[Device, ...]
    source: str
    driver_version: str | None = None
    cuda_version: str | None = None
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for ``orca doctor``: the GPUs and their free memory, or why none."""
        if not self.devices:
            why = "; ".join(self.notes)
            return f"none ({self.source}{': ' + why if why else ''})"
        gpus = ", ".join(
            f"{d.index}: {d.name} {d.free_bytes >> 20}/{d.total_bytes >> 20} MiB free"
            for d in self.devices
        )
        driver = f", driver {self.driver_version}" if self.driver_version else ""
        return f"{gpus} ({self.source}{driver})"


@dataclass(frozen=True, slots=True)
class _SmiReport:
    devices: tuple[Device, ...]
    driver_version: str | None
    skipped: tuple[str, ...]


def detect_inventory(
    *,
    simulated: Sequence[Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
    nvidia_smi: str = "nvidia-smi",
    timeout_s: float = 15.0,
) -> Inventory:
    """Find this host's GPUs.

    In order: ``ORCA_SIMULATED_GPUS`` (JSON) when set, else ``simulated`` (config's
    ``[pools] simulate_gpus``) when given, else NVML through ``nvidia-ml-py``, else
    ``nvidia-smi`` (looked up on ``environ``'s PATH), else an empty inventory with source
    ``"none"``. A source that answers but lists no GPU is passed over too. The reasons
    each real source was passed over are kept in ``notes``.

    Raises:
        ConfigError: the simulated inventory is malformed (names the field and the fix).
    """
    env = os.environ if environ is None else environ
    raw = env.get(SIMULATED_GPUS_ENV, "")
    if raw.strip():
        return simulated_inventory(_parse_env(raw), key=SIMULATED_GPUS_ENV)
    if simulated is not None:
        return simulated_inventory(simulated)
    notes: list[str] = []
    found = _from_nvml(notes)
    if found is not None:
        return found
    found = _from_nvidia_smi(nvidia_smi, env, timeout_s, notes)
    if found is not None:
        return found
    return Inventory(devices=(), source="none", notes=tuple(notes))


# -- NVML ----------------------------------------------------------------------------------


def _from_nvml(notes: list[str]) -> Inventory | None:
    try:
        # lazily: nvidia-ml-py is optional, and a host without it uses nvidia-smi
        nvml = importlib.import_module("pynvml")
    except ImportError:
        notes.append("nvml: nvidia-ml-py is not installed (pip install nvidia-ml-py)")
        return None
    try:
        nvml.nvmlInit()
    except Exception as exc:  # pynvml.NVMLError and friends: no driver, no library
        notes.append(f"nvml: cannot initialise NVML ({_text(exc)})")
        return None
    try:
        devices = tuple(_nvml_device(nvml, i) for i in range(int(nvml.nvmlDeviceGetCount())))
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        cuda = _cuda_version(nvml)
    except Exception as exc:
        notes.append(f"nvml: cannot read the devices ({_text(exc)})")
        return None
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception as exc:
            notes.append(f"nvml: shutdown failed ({_text(exc)})")
    if not devices:
        notes.append("nvml: the driver lists no GPU")
        return None
    return Inventory(devices, "nvml", driver or None, cuda, tuple(notes))


def _nvml_device(nvml: Any, index: int) -> Device:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    try:
        uuid: str | None = _text(nvml.nvmlDeviceGetUUID(handle)) or None
    except Exception:
        uuid = None
    return Device(
        index=index,
        name=_text(nvml.nvmlDeviceGetName(handle)) or "unknown",
        uuid=uuid,
        total_bytes=int(memory.total),
        free_bytes=int(memory.free),
    )


def _cuda_version(nvml: Any) -> str | None:
    try:
        # the driver's CUDA version as 1000 * major + 10 * minor (12040 -> "12.4")
        number = int(nvml.nvmlSystemGetCudaDriverVersion())
    except Exception:
        return None
    return f"{number // 1000}.{number % 1000 // 10}"


def _text(value: Any) -> str:
    # older nvidia-ml-py answers bytes, newer str
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip()


# -- nvidia-smi ----------------------------------------------------------------------------


def _from_nvidia_smi(
    program: str, env: Mapping[str, str], timeout_s: float, notes: list[str]
) -> Inventory | None:
    path = shutil.which(program, path=env.get("PATH", os.defpath))
    if path is None:
        notes.append(f"nvidia-smi: {program} is not on PATH (install the NVIDIA driver)")
        return None
    args = [path, f"--query-gpu={NVIDIA_SMI_QUERY}", "--format=csv,noheader,nounits"]
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, errors="replace", timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        notes.append(f"nvidia-smi: no answer within {timeout_s:g} s (is the driver hung?)")
        return None
    except OSError as exc:
        notes.append(f"nvidia-smi: cannot run {path} ({exc.strerror or exc})")
        return None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        why = said[0][:300] if said else "no message"
        notes.append(f"nvidia-smi: exited with status {done.returncode}: {why}")
        return None
    report = _parse_smi(done.stdout)
    notes.extend(f"nvidia-smi: {reason}" for reason in report.skipped)
    if not report.devices:
        notes.append("nvidia-smi: it lists no GPU that could be read")
        return None
    return Inventory(report.devices, "nvidia-smi", report.driver_version, None, tuple(notes))


def parse_nvidia_smi(text: str) -> tuple[Device, ...]:
    """The devices in the output of ``nvidia-smi --query-gpu=index,name,uuid,memory.total,
    memory.free[,driver_version] --format=csv,noheader,nounits``.

    Tolerant of what real output holds: spaces around fields, ``MiB`` units, a header
    line, ``[N/A]`` for a UUID. A line that is not a device (a warning, garbage), a
    device whose memory is unknown (``[N/A]``) or a second line with the same index is
    skipped; :func:`detect_inventory` keeps the reason in ``Inventory.notes``.

    Raises:
        InvalidInputError: the text holds lines but not one device could be read.
    """
    report = _parse_smi(text)
    if not report.devices and report.skipped:
        raise InvalidInputError(
            f"no GPU could be read from the nvidia-smi output: {'; '.join(report.skipped[:3])}"
            ". Fix: run nvidia-smi --query-gpu=index,name,uuid,memory.total,memory.free "
            "--format=csv,noheader,nounits and check that it lists the GPUs"
        )
    return report.devices


def _parse_smi(text: str) -> _SmiReport:
    devices: dict[int, Device] = {}
    drivers: list[str] = []
    skipped: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.lower().startswith("index,"):
            continue  # blank, or the header of a run without noheader
        fields = [field.strip() for field in stripped.split(",")]
        problem, device, driver = _smi_row(fields)
        if device is None:
            skipped.append(f"line {number} skipped ({problem}): {stripped[:120]!r}")
            continue
        if device.index in devices:
            skipped.append(f"line {number} skipped (index {device.index} again): {stripped!r}")
            continue
        devices[device.index] = device
        if driver:
            drivers.append(driver)
    ordered = tuple(devices[index] for index in sorted(devices))
    return _SmiReport(ordered, drivers[0] if drivers else None, tuple(skipped))


def _smi_row(fields: list[str]) -> tuple[str, Device | None, str | None]:
    if len(fields) not in (5, 6):
        return f"{len(fields)} fields, expected 5 or 6", None, None
    index_text, name, uuid, total_text, free_text = fields[:5]
    driver = fields[5] if len(fields) == 6 and fields[5].lower() not in _NA else None
    if not index_text.isdigit() or len(index_text) > 4:
        return f"index {index_text!r} is not a number", None, None
    total = _mib(total_text)
    if total is None or total == 0:
        return f"memory.total {total_text!r} is unknown or not a size in MiB", None, None
    free = _mib(free_text)
    if free is None:
        return f"memory.free {free_text!r} is unknown or not a size in MiB", None, None
    device = Device(
        index=int(index_text),
        name=name if name.lower() not in _NA else "unknown",
        uuid=uuid if uuid.lower() not in _NA else None,
        total_bytes=total * MIB,
        free_bytes=min(free, total) * MIB,
    )
    return "", device, driver


def _mib(text: str) -> int | None:
    number = text.removesuffix("MiB").strip()
    if not number.isdigit() or int(number) > _MAX_MIB:
        return None
    return int(number)


# -- simulated inventories ---------------------------------------------------------------


def _parse_env(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{SIMULATED_GPUS_ENV} is not valid JSON ({exc.msg} at position {exc.pos})",
            key=SIMULATED_GPUS_ENV,
            fix=f"""set it to a JSON list, e.g. {SIMULATED_GPUS_ENV}='[{{"name": "RTX 4090", \
"total_mib": 24576, "free_mib": 24000}}]', or unset it to use the real GPUs""",
        ) from None


def simulated_inventory(
    spec: Sequence[Mapping[str, Any]], *, key: str = "pools.simulate_gpus"
) -> Inventory:
    """An inventory of made-up GPUs, for machines without one (tests, CI, demos).

    Each item: ``name`` (text), ``total_mib`` (a whole number of MiB, at least 1),
    optionally ``free_mib`` (0 to ``total_mib``; all of it when absent), ``index`` (its
    position when absent) and ``uuid``. An empty list simulates a host with no GPU.

    Raises:
        ConfigError: a malformed item; ``key`` (``pools.simulate_gpus[1].total_mib``)
            names the field and ``fix`` what to write.
    """
    if isinstance(spec, str | bytes) or not isinstance(spec, Sequence):
        raise ConfigError(
            f"{key} must be a list of GPUs, not {type(spec).__name__}",
            key=key,
            fix=f'write {key} as a list, e.g. [{{"name": "RTX 4090", "total_mib": 24576}}]',
        )
    if len(spec) > _MAX_DEVICES:
        raise ConfigError(
            f"{key} lists {len(spec)} GPUs, more than {_MAX_DEVICES}",
            key=key,
            fix=f"simulate at most {_MAX_DEVICES} GPUs",
        )
    devices: dict[int, Device] = {}
    for position, item in enumerate(spec):
        device = _simulated_device(item, position, f"{key}[{position}]")
        if device.index in devices:
            raise ConfigError(
                f"{key}[{position}].index {device.index} is used twice",
                key=f"{key}[{position}].index",
                fix="give each simulated GPU its own index, or leave index out",
            )
        devices[device.index] = device
    ordered = tuple(devices[index] for index in sorted(devices))
    return Inventory(ordered, "simulated", driver_version=None, cuda_version=None)


def _simulated_device(item: Any, position: int, where: str) -> Device:
    if not isinstance(item, Mapping):
        raise ConfigError(
            f"{where} must be a table of fields, not {type(item).__name__}",
            key=where,
            fix='write it as {"name": "RTX 4090", "total_mib": 24576, "free_mib": 24000}',
        )
    for field in item:
        if field not in _SIMULATED_KEYS:
            raise ConfigError(
                f"{where} has an unknown field {field!r}{closest(str(field), _SIMULATED_KEYS)}",
                key=f"{where}.{field}",
                fix=f"use only the fields {', '.join(_SIMULATED_KEYS)}",
            )
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ConfigError(
            f"{where}.name must be a GPU's name, got {name!r}",
            key=f"{where}.name",
            fix='write a name of 1 to 200 characters, e.g. "name": "RTX 4090"',
        )
    total = _whole_mib(item.get("total_mib"), f"{where}.total_mib", low=1)
    free = total
    if item.get("free_mib") is not None:
        free = _whole_mib(item["free_mib"], f"{where}.free_mib", low=0)
    if free > total:
        raise ConfigError(
            f"{where}.free_mib ({free}) is more than total_mib ({total})",
            key=f"{where}.free_mib",
            fix=f"write a free_mib from 0 to {total}, or leave it out (all free)",
        )
    index = item.get("index", position)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < _MAX_DEVICES:
        raise ConfigError(
            f"{where}.index must be a whole number from 0 to {_MAX_DEVICES - 1}, got {index!r}",
            key=f"{where}.index",
            fix="write the CUDA index of the GPU, or leave index out (its position)",
        )
    uuid = item.get("uuid")
    if uuid is not None and (not isinstance(uuid, str) or not uuid.strip()):
        raise ConfigError(
            f"{where}.uuid must be text, got {uuid!r}",
            key=f"{where}.uuid",
            fix='write it like "GPU-5f3e1c2a-...", or leave uuid out',
        )
    return Device(
        index=index,
        name=name.strip(),
        uuid=uuid,
        total_bytes=total * MIB,
        free_bytes=free * MIB,
    )


def _whole_mib(value: Any, key: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= _MAX_MIB:
        raise ConfigError(
            f"{key} must be a whole number of MiB from {low} to {_MAX_MIB}, got {value!r}",
            key=key,
            fix=f"write a whole number, e.g. {key.rsplit('.', 1)[-1]} = 24576 for 24 GiB",
        )
    return value
