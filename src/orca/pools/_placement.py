"""Where a pool's replicas go and which replica serves a call: pure functions over data.

``estimate_vram`` sizes one replica from its model's GGUF metadata (the formula is in
docs/pools.md, "Placement"); ``place_replicas`` puts replicas on the GPUs with the most
free VRAM, never on the CPU; ``choose_replica`` picks the replica for one call: ready,
not draining, the session's own when it has a free slot, else the least loaded. Every
tie goes to the lowest index, so the same inputs always give the same answer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from orca.errors import InvalidFieldError, InvalidInputError, PlacementError

from ._inventory import Device, Inventory

__all__ = [
    "OVERHEAD_FLOOR_BYTES",
    "OVERHEAD_SHARE",
    "Affinity",
    "ModelShape",
    "ReplicaView",
    "VramEstimate",
    "choose_replica",
    "estimate_vram",
    "place_replicas",
    "shape_of",
]

GIB = 1024**3
# what llama.cpp needs beside weights and KV cache: the CUDA context and cuBLAS workspace
# (~300-500 MiB per process) and the compute buffers, which grow with the model (a 7B model
# at 4k context takes ~0.3 GiB, a 70B one ~1.1 GiB). A floor of 512 MiB plus 1/20 of the
# weights and KV cache covers both with some room, and stays an integer.
OVERHEAD_FLOOR_BYTES = 512 * 1024 * 1024
OVERHEAD_SHARE = Fraction(1, 20)
# beyond these a number is a typo or hostile: no model has a 16M-token context
_MAX_N_CTX = 1 << 24
_MAX_SLOTS = 1024
_MAX_REPLICAS = 1024
_MAX_KV_TYPE_BYTES = 8
_NOTHING_RESERVED: Mapping[int, int] = MappingProxyType({})
_SMALLER = "fewer replicas, a smaller n_ctx or fewer slots, or a more quantized model"


class ModelShape(Protocol):
    """What the estimate reads of a model's metadata; ``pools._gguf.GGUFInfo`` has it."""

    @property
    def architecture(self) -> str: ...
    @property
    def block_count(self) -> int | None: ...
    @property
    def embedding_length(self) -> int | None: ...
    @property
    def head_count(self) -> int | None: ...
    @property
    def head_count_kv(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class _Shape:
    architecture: str
    block_count: int | None
    embedding_length: int | None
    head_count: int | None
    head_count_kv: int | None


def shape_of(metadata: Mapping[str, Any]) -> ModelShape:
    """The shape of a model from its catalog record's ``metadata`` (``GGUFInfo.as_dict()``),
    for ``estimate_vram`` without reading the file again. Counts that are absent or not
    whole numbers become None; the estimate then falls back or refuses, naming the field.
    """

    def count(field: str) -> int | None:
        value = metadata.get(field)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    architecture = metadata.get("architecture")
    return _Shape(
        architecture=architecture if isinstance(architecture, str) else "unknown",
        block_count=count("block_count"),
        embedding_length=count("embedding_length"),
        head_count=count("head_count"),
        head_count_kv=count("head_count_kv"),
    )


@dataclass(frozen=True, slots=True)
class VramEstimate:
    """The GPU memory one replica needs, in bytes, by part."""

    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.overhead_bytes


def estimate_vram(
    info: ModelShape, *, file_size: int, n_ctx: int, slots: int = 1, kv_type_bytes: int = 2
) -> VramEstimate:
    """The VRAM one replica of a model needs (docs/pools.md, "Placement").

    Weights are the GGUF file's size (its tensor data; the metadata is a rounding error).
    The KV cache holds K and V for every layer, for ``slots`` sequences of ``n_ctx``
    tokens each: ``2 * n_layer * n_ctx * slots * n_embd * n_head_kv / n_head *
    kv_type_bytes`` (2 for an f16 cache). Overhead is ``OVERHEAD_FLOOR_BYTES`` plus
    ``OVERHEAD_SHARE`` of the two.

    Args:
        info: the model's metadata (``GGUFInfo``).
        file_size: the model file's size in bytes.
        n_ctx: the context of one sequence (slot), in tokens.
        slots: sequences served at once by the replica.
        kv_type_bytes: bytes per KV cache element (2 for f16, 4 for f32, 1 for q8_0).

    Raises:
        InvalidFieldError: an argument out of range, or metadata the KV cache cannot be
            sized without (``block_count``, ``embedding_length``); names the field.
    """
    _count("file_size", file_size, 1, 1 << 50, "the model file's size in bytes")
    _count("n_ctx", n_ctx, 1, _MAX_N_CTX, "a context of at least 1 token, e.g. n_ctx = 4096")
    _count("slots", slots, 1, _MAX_SLOTS, "at least 1 concurrent sequence per replica")
    _count("kv_type_bytes", kv_type_bytes, 1, _MAX_KV_TYPE_BYTES, "2 for an f16 KV cache")
    n_layer = _metadata(info, "block_count", info.block_count)
    n_embd = _metadata(info, "embedding_length", info.embedding_length)
    kv_width = _kv_width(info, n_embd)
    kv_cache = 2 * n_layer * n_ctx * slots * kv_width * kv_type_bytes
    overhead = OVERHEAD_FLOOR_BYTES + _ceil(OVERHEAD_SHARE * (file_size + kv_cache))
    return VramEstimate(weights_bytes=file_size, kv_cache_bytes=kv_cache, overhead_bytes=overhead)


def _kv_width(info: ModelShape, n_embd: int) -> int:
    # K (and V) values per token and layer: n_embd for full attention, less with grouped
    # query attention (n_head_kv < n_head). Without the head counts, assume full attention:
    # an upper bound, since n_head_kv never exceeds n_head.
    head_count = info.head_count
    if head_count is None:
        return n_embd
    heads = _metadata(info, "head_count", head_count)
    kv_heads = info.head_count_kv if info.head_count_kv is not None else heads
    kv_heads = _metadata(info, "head_count_kv", kv_heads)
    if kv_heads > heads:
        raise InvalidFieldError(
            f"the model's head_count_kv ({kv_heads}) exceeds its head_count ({heads})",
            field="metadata.head_count_kv",
            fix="the GGUF metadata is inconsistent: re-convert the model with a current "
            "llama.cpp convert script",
        )
    return _ceil(Fraction(n_embd * kv_heads, heads))


def _metadata(info: ModelShape, field: str, value: int | None) -> int:
    key = f"{info.architecture}.{'attention.' if field.startswith('head') else ''}{field}"
    if value is None:
        raise InvalidFieldError(
            f"the model's GGUF metadata lacks {key}, which sizes its KV cache",
            field=f"metadata.{field}",
            fix="re-convert the model with a current llama.cpp convert script, which writes it",
        )
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1 << 20:
        raise InvalidFieldError(
            f"the model's {key} is {value!r}, not a count from 1 to {1 << 20}",
            field=f"metadata.{field}",
            fix="the GGUF file is damaged or hostile: re-download or re-convert it",
        )
    return value


def _count(field: str, value: object, low: int, high: int, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidFieldError(
            f"{field} must be a whole number from {low} to {high}, got {value!r}",
            field=field,
            fix=f"give {fix}",
        )


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)


# -- placing replicas ------------------------------------------------------------------------


def place_replicas(
    need_bytes: int,
    count: int,
    inventory: Inventory,
    reserved: Mapping[int, int] = _NOTHING_RESERVED,
) -> list[int]:
    """The device index for each of ``count`` replicas that each need ``need_bytes``.

    Each replica goes to the device with the most free VRAM after what is ``reserved``
    on it (device index -> bytes) and after the replicas placed before it; ties go to the
    lowest index. ``reserved`` is memory spoken for but not yet gone from the inventory's
    free bytes (replicas placed but still loading); memory the inventory already counts as
    used must not be reserved again. The order of the inventory's devices does not matter.

    Raises:
        PlacementError: a replica fits on no device, or there is no GPU at all. GPU mode
            never spills to the CPU; nothing is placed unless every replica fits.
        InvalidFieldError: a count or size out of range, or ``reserved`` names an unknown
            device or a negative amount.
    """
    _count("need_bytes", need_bytes, 1, 1 << 50, "the bytes one replica needs (estimate_vram)")
    _count("count", count, 1, _MAX_REPLICAS, "at least 1 replica")
    devices = _by_index(inventory.devices)
    available = _available(devices, reserved)
    if not devices:
        why = f" ({'; '.join(inventory.notes)})" if inventory.notes else ""
        raise PlacementError(
            f"no GPU to place the pool's replicas on: the inventory ({inventory.source}) "
            f"lists none{why}; GPU mode never runs a model on the CPU",
            need_bytes=need_bytes,
            replica=0,
            best_device=None,
            best_free_bytes=None,
            fix="install the NVIDIA driver (orca doctor checks it), or set the pool's "
            'mode = "cpu" for development',
        )
    placed: list[int] = []
    for replica in range(count):
        # most free first, then the lowest index: a total order, so the input's order
        # cannot change the answer
        best = min(devices, key=lambda index: (-available[index], index))
        if available[best] < need_bytes:
            raise _no_room(need_bytes, replica, count, devices[best], available[best])
        available[best] -= need_bytes
        placed.append(best)
    return placed


def _by_index(devices: Sequence[Device]) -> dict[int, Device]:
    found: dict[int, Device] = {}
    for device in devices:
        if device.index in found:
            raise InvalidInputError(
                f"the inventory lists GPU index {device.index} twice. Fix: take the "
                "inventory from one detect_inventory() call, or give each simulated GPU "
                "its own index"
            )
        if device.free_bytes < 0 or device.total_bytes < 0:
            raise InvalidInputError(
                f"GPU {device.index} has negative memory in the inventory. Fix: take the "
                "inventory from detect_inventory() or simulated_inventory()"
            )
        found[device.index] = device
    return found


def _available(devices: Mapping[int, Device], reserved: Mapping[int, int]) -> dict[int, int]:
    available = {index: device.free_bytes for index, device in devices.items()}
    for index, amount in reserved.items():
        if index not in available:
            known = ", ".join(str(i) for i in sorted(available)) or "none"
            raise InvalidFieldError(
                f"reserved names GPU {index!r}, which the inventory lacks (it has {known})",
                field="reserved",
                fix="reserve only on devices of the inventory; drop reservations of a "
                "GPU that is gone",
            )
        _count("reserved", amount, 0, 1 << 50, "the bytes reserved, 0 or more")
        available[index] -= amount
    return available


def _no_room(need: int, replica: int, count: int, best: Device, free: int) -> PlacementError:
    before = f" after the {replica} replica(s) placed before it" if replica else ""
    return PlacementError(
        f"replica {replica + 1} of {count} needs {_gib(need)} of GPU memory, but the "
        f"device with the most free, GPU {best.index} ({best.name}), has "
        f"{_gib(max(free, 0))} free{before}",
        need_bytes=need,
        replica=replica,
        best_device=best.index,
        best_free_bytes=max(free, 0),
        fix=f"ask for {_SMALLER}; GPU mode never spills to the CPU",
    )


def _gib(amount: int) -> str:
    return f"{amount / GIB:.2f} GiB ({amount} bytes)"


# -- choosing a replica for a call -------------------------------------------------------------


class ReplicaView(Protocol):
    """What dispatch reads of a replica; the supervisor's ``Replica`` has it."""

    @property
    def index(self) -> int: ...
    @property
    def ready(self) -> bool: ...
    @property
    def draining(self) -> bool: ...
    @property
    def in_flight(self) -> int: ...
    @property
    def slots(self) -> int: ...


R = TypeVar("R", bound=ReplicaView)


def choose_replica(
    replicas: Sequence[R], *, session: str | None, affinity: Mapping[str, int]
) -> R | None:
    """The replica that serves the next call, or None when every ready one is full.

    Only replicas that are ready, not draining and have a free slot (``in_flight <
    slots``) count. The session's replica (``affinity[session]``) wins when it counts, so
    its KV cache stays warm; otherwise the least loaded (``in_flight / slots``, then
    ``in_flight``), ties to the lowest index. The caller records the chosen replica as
    the session's (``Affinity.record``).
    """
    open_ = [r for r in replicas if r.ready and not r.draining and 0 <= r.in_flight < r.slots]
    if not open_:
        return None
    if session is not None:
        home = affinity.get(session)
        for replica in open_:
            if replica.index == home:
                return replica
    return min(open_, key=lambda r: (Fraction(r.in_flight, r.slots), r.in_flight, r.index))


class Affinity(Mapping[str, int]):
    """Which replica each session last used: a map session -> replica index that keeps
    the ``max_sessions`` most recently recorded sessions (least recently used go first).

    Pass it as ``choose_replica``'s ``affinity``; ``record`` the replica each call went
    to; ``forget`` a replica that is replaced, so its sessions move on.
    """

    def __init__(self, max_sessions: int = 10_000) -> None:
        _count("max_sessions", max_sessions, 1, 1 << 24, "at least 1 session to remember")
        self._max = max_sessions
        self._map: OrderedDict[str, int] = OrderedDict()

    def __getitem__(self, session: str) -> int:
        return self._map[session]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def record(self, session: str, replica: int) -> None:
        """Remember that ``session`` is served by ``replica``; the oldest session goes
        when more than ``max_sessions`` are remembered."""
        self._map[session] = replica
        self._map.move_to_end(session)
        while len(self._map) > self._max:
            self._map.popitem(last=False)

    def choose(self, replicas: Sequence[R], session: str | None) -> R | None:
        """``choose_replica`` with this map, recording the answer for ``session``."""
        chosen = choose_replica(replicas, session=session, affinity=self)
        if chosen is not None and session is not None:
            self.record(session, chosen.index)
        return chosen
