"""Placement on simulated GPUs: the VRAM estimate, least-loaded placement with VRAM
awareness and deterministic ties, and ready-only dispatch with session affinity."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, replace
from pathlib import Path

import gguf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orca.errors import InvalidFieldError, InvalidInputError, PlacementError
from orca.llm.tiny import ensure_tiny_model
from orca.pools._inventory import Device, Inventory, simulated_inventory
from orca.pools._placement import (
    OVERHEAD_FLOOR_BYTES,
    Affinity,
    VramEstimate,
    choose_replica,
    estimate_vram,
    place_replicas,
    shape_of,
)

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True, slots=True)
class Shape:
    """The fields of GGUFInfo the estimate reads."""

    architecture: str = "llama"
    block_count: int | None = 32
    embedding_length: int | None = 4096
    head_count: int | None = 32
    head_count_kv: int | None = 32


LLAMA2_7B = Shape()
LLAMA3_8B = Shape(head_count_kv=8)


def gpus(*gib: float, free: dict[int, float] | None = None) -> Inventory:
    free = free or {}
    return simulated_inventory(
        [
            {"name": f"GPU{i}", "total_mib": int(g * 1024), "free_mib": int(free.get(i, g) * 1024)}
            for i, g in enumerate(gib)
        ]
    )


# -- the estimate ------------------------------------------------------------------------------


def test_the_kv_cache_matches_what_llama_cpp_allocates() -> None:
    # llama.cpp logs "KV self size = 2048.00 MiB" for Llama 2 7B at n_ctx 4096 (f16), and
    # 1024 MiB for Llama 3 8B at 8192 (grouped query attention: 8 KV heads of 32)
    assert estimate_vram(LLAMA2_7B, file_size=1, n_ctx=4096).kv_cache_bytes == 2048 * MIB
    assert estimate_vram(LLAMA3_8B, file_size=1, n_ctx=8192).kv_cache_bytes == 1024 * MIB


def test_the_estimate_adds_weights_kv_cache_and_overhead() -> None:
    weights = 4_081_004_224  # a Q4_K_M file of Llama 2 7B
    estimate = estimate_vram(LLAMA2_7B, file_size=weights, n_ctx=4096, slots=2)
    kv = 2 * 32 * 4096 * 2 * 4096 * 2
    overhead = OVERHEAD_FLOOR_BYTES + -(-(weights + kv) // 20)
    assert estimate == VramEstimate(weights, kv, overhead)
    assert estimate.total_bytes == weights + kv + overhead


def test_slots_and_context_scale_the_kv_cache_and_an_f32_cache_doubles_it() -> None:
    one = estimate_vram(LLAMA3_8B, file_size=GIB, n_ctx=2048).kv_cache_bytes
    assert estimate_vram(LLAMA3_8B, file_size=GIB, n_ctx=2048, slots=4).kv_cache_bytes == 4 * one
    assert estimate_vram(LLAMA3_8B, file_size=GIB, n_ctx=4096).kv_cache_bytes == 2 * one
    f32 = estimate_vram(LLAMA3_8B, file_size=GIB, n_ctx=2048, kv_type_bytes=4)
    assert f32.kv_cache_bytes == 2 * one


def test_the_tiny_model_is_estimated_from_its_real_metadata() -> None:
    path = Path(ensure_tiny_model())
    fields = gguf.GGUFReader(path).fields

    def read(key: str) -> int:
        return int(fields[key].contents())

    shape = Shape(
        block_count=read("llama.block_count"),
        embedding_length=read("llama.embedding_length"),
        head_count=read("llama.attention.head_count"),
        head_count_kv=read("llama.attention.head_count_kv"),
    )
    estimate = estimate_vram(shape, file_size=path.stat().st_size, n_ctx=2048)
    assert estimate.weights_bytes == path.stat().st_size
    assert estimate.kv_cache_bytes == 2 * 2 * 2048 * 64 * 2  # 2 layers, 64 wide
    assert estimate.overhead_bytes > OVERHEAD_FLOOR_BYTES


def test_missing_head_counts_assume_full_attention() -> None:
    full = estimate_vram(LLAMA2_7B, file_size=GIB, n_ctx=1024)
    assert estimate_vram(Shape(head_count=None), file_size=GIB, n_ctx=1024) == full
    assert estimate_vram(Shape(head_count_kv=None), file_size=GIB, n_ctx=1024) == full
    assert estimate_vram(Shape(head_count=None, head_count_kv=None), file_size=GIB, n_ctx=1024)


def test_a_catalog_record_s_metadata_gives_the_same_estimate() -> None:
    metadata = {
        "version": 3,
        "architecture": "llama",
        "block_count": 32,
        "embedding_length": 4096,
        "head_count": 32,
        "head_count_kv": 8,
        "quantization": "Q4_K_M",
    }
    shape = shape_of(metadata)
    assert estimate_vram(shape, file_size=GIB, n_ctx=8192) == estimate_vram(
        LLAMA3_8B, file_size=GIB, n_ctx=8192
    )


def test_hostile_catalog_metadata_is_refused_naming_the_field() -> None:
    shape = shape_of({"architecture": ["x"], "block_count": "32", "embedding_length": 4096})
    with pytest.raises(InvalidFieldError, match=r"lacks unknown\.block_count") as caught:
        estimate_vram(shape, file_size=GIB, n_ctx=512)
    assert caught.value.field == "metadata.block_count"
    shape = shape_of({"architecture": "llama", "block_count": True, "embedding_length": 1})
    with pytest.raises(InvalidFieldError, match="block_count"):
        estimate_vram(shape, file_size=GIB, n_ctx=512)


@pytest.mark.parametrize(
    ("shape", "field", "says"),
    [
        (Shape(block_count=None), "metadata.block_count", "lacks llama.block_count"),
        (Shape(embedding_length=None), "metadata.embedding_length", "lacks llama.embedding"),
        (Shape(block_count=0), "metadata.block_count", "not a count"),
        (Shape(block_count=-3), "metadata.block_count", "not a count"),
        (Shape(block_count=1 << 40), "metadata.block_count", "not a count"),
        (Shape(head_count=0), "metadata.head_count", "not a count"),
        (Shape(head_count_kv=0), "metadata.head_count_kv", "not a count"),
        (Shape(head_count_kv=64), "metadata.head_count_kv", "exceeds its head_count"),
        (Shape(embedding_length=True), "metadata.embedding_length", "not a count"),
    ],
)
def test_bad_metadata_is_refused_naming_the_field(shape: Shape, field: str, says: str) -> None:
    with pytest.raises(InvalidFieldError, match="Fix: ") as caught:
        estimate_vram(shape, file_size=GIB, n_ctx=512)
    assert caught.value.field == field
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"n_ctx": 0}, "n_ctx"),
        ({"n_ctx": -1}, "n_ctx"),
        ({"n_ctx": 1 << 40}, "n_ctx"),
        ({"n_ctx": 4096.0}, "n_ctx"),
        ({"n_ctx": "4096"}, "n_ctx"),
        ({"slots": 0}, "slots"),
        ({"slots": True}, "slots"),
        ({"kv_type_bytes": 0}, "kv_type_bytes"),
        ({"kv_type_bytes": 1000}, "kv_type_bytes"),
        ({"file_size": 0}, "file_size"),
        ({"file_size": -5}, "file_size"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(
    arguments: dict[str, object], field: str
) -> None:
    given_args: dict[str, object] = {"file_size": GIB, "n_ctx": 1024, **arguments}
    with pytest.raises(InvalidFieldError) as caught:
        estimate_vram(LLAMA2_7B, **given_args)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert field in str(caught.value)


# -- placement ---------------------------------------------------------------------------------


def test_replicas_spread_across_gpus_by_most_free_memory() -> None:
    assert place_replicas(10 * GIB, 3, gpus(12, 12, 12)) == [0, 1, 2]


def test_mixed_vram_fills_the_roomiest_gpu_first_and_ties_go_to_the_lowest_index() -> None:
    # 24, 8 and 12 GiB, 6 GiB each: 24 -> 18 -> 12 ties GPU 2's 12 (GPU 0 wins) -> 6;
    # GPU 2 -> 6; GPU 1's 8 -> 2; 6 and 6 tie again (GPU 0), then GPU 2
    assert place_replicas(6 * GIB, 7, gpus(24, 8, 12)) == [0, 0, 0, 2, 1, 0, 2]


def test_a_full_gpu_gets_no_replica() -> None:
    inventory = gpus(24, 8, 12, free={0: 0})
    assert place_replicas(4 * GIB, 3, inventory) == [2, 1, 2]


def test_reserved_memory_counts_as_used() -> None:
    assert place_replicas(4 * GIB, 1, gpus(24, 8, 12), {0: 20 * GIB}) == [2]
    assert place_replicas(4 * GIB, 1, gpus(24, 8, 12), {0: 12 * GIB}) == [0]  # 12 = 12: GPU 0


def test_a_model_that_fits_nowhere_names_the_need_the_roomiest_gpu_and_the_fix() -> None:
    with pytest.raises(PlacementError) as caught:
        place_replicas(30 * GIB, 1, gpus(24, 8, 12))
    error = caught.value
    assert (error.need_bytes, error.replica, error.best_device) == (30 * GIB, 0, 0)
    assert error.best_free_bytes == 24 * GIB
    message = str(error)
    assert "needs 30.00 GiB" in message
    assert "GPU 0 (GPU0), has 24.00 GiB" in message
    assert "fewer replicas, a smaller n_ctx" in message
    assert "quantized model" in message


def test_nothing_is_placed_unless_every_replica_fits() -> None:
    with pytest.raises(PlacementError) as caught:
        place_replicas(6 * GIB, 8, gpus(24, 8, 12))
    assert caught.value.replica == 7
    assert caught.value.best_free_bytes == 2 * GIB
    assert "replica 8 of 8" in str(caught.value)
    assert "after the 7 replica(s) placed before it" in str(caught.value)


def test_reservations_beyond_the_free_memory_leave_no_room() -> None:
    with pytest.raises(PlacementError) as caught:
        place_replicas(GIB, 1, gpus(8), {0: 9 * GIB})
    assert caught.value.best_free_bytes == 0


def test_no_gpu_never_means_the_cpu() -> None:
    none = Inventory(devices=(), source="none", notes=("nvidia-smi: not on PATH",))
    with pytest.raises(PlacementError, match="no GPU") as caught:
        place_replicas(GIB, 1, none)
    assert "nvidia-smi: not on PATH" in str(caught.value)
    assert 'mode = "cpu"' in caught.value.fix
    assert caught.value.best_device is None


def test_the_order_of_the_devices_does_not_change_the_placement() -> None:
    inventory = gpus(24, 8, 12, 12)
    expected = place_replicas(5 * GIB, 6, inventory)
    for order in itertools.permutations(inventory.devices):
        shuffled = replace(inventory, devices=order)
        assert place_replicas(5 * GIB, 6, shuffled) == expected


@given(
    totals=st.lists(st.integers(1, 96), min_size=1, max_size=6),
    need=st.integers(1, 40),
    count=st.integers(1, 8),
    seed=st.randoms(use_true_random=False),
)
def test_placement_is_deterministic_and_never_overcommits(
    totals: list[int], need: int, count: int, seed: random.Random
) -> None:
    inventory = gpus(*totals)
    shuffled = list(inventory.devices)
    seed.shuffle(shuffled)
    placed = outcome(need * GIB, count, inventory)
    assert outcome(need * GIB, count, replace(inventory, devices=tuple(shuffled))) == placed
    if isinstance(placed, list):
        for device in inventory.devices:
            assert placed.count(device.index) * need * GIB <= device.free_bytes


def outcome(need: int, count: int, inventory: Inventory) -> list[int] | str:
    try:
        return place_replicas(need, count, inventory)
    except PlacementError as error:
        return str(error)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"need_bytes": 0}, "need_bytes"),
        ({"need_bytes": -1}, "need_bytes"),
        ({"need_bytes": 1.5}, "need_bytes"),
        ({"need_bytes": True}, "need_bytes"),
        ({"count": 0}, "count"),
        ({"count": 10**9}, "count"),
        ({"reserved": {7: 1}}, "reserved"),
        ({"reserved": {0: -1}}, "reserved"),
        ({"reserved": {0: "1"}}, "reserved"),
    ],
)
def test_bad_placement_arguments_name_the_field(call: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"need_bytes": GIB, "count": 1, **call}
    with pytest.raises(InvalidFieldError) as caught:
        place_replicas(inventory=gpus(8), **arguments)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_an_inventory_with_a_repeated_index_is_refused() -> None:
    device = Device(0, "GPU0", None, 8 * GIB, 8 * GIB)
    with pytest.raises(InvalidInputError, match="index 0 twice"):
        place_replicas(GIB, 1, Inventory((device, device), "simulated"))


def test_an_inventory_with_negative_memory_is_refused() -> None:
    device = Device(0, "GPU0", None, 8 * GIB, -1)
    with pytest.raises(InvalidInputError, match="negative memory"):
        place_replicas(GIB, 1, Inventory((device,), "simulated"))


# -- choosing a replica ------------------------------------------------------------------------


@dataclass
class Rep:
    index: int
    ready: bool = True
    draining: bool = False
    in_flight: int = 0
    slots: int = 2


def test_the_least_loaded_ready_replica_serves() -> None:
    replicas = [Rep(0, in_flight=2, slots=4), Rep(1, in_flight=1, slots=4), Rep(2, in_flight=1)]
    assert choose_replica(replicas, session=None, affinity={}) is replicas[1]


def test_load_is_a_share_of_the_slots_then_the_calls_then_the_index() -> None:
    # 1/4 < 1/2; equal shares: fewer calls; equal everything: the lowest index
    assert choose_replica([Rep(0, in_flight=1), Rep(1, in_flight=1, slots=4)], session=None,
                          affinity={}).index == 1  # fmt: skip
    assert choose_replica([Rep(0, in_flight=2, slots=4), Rep(1, in_flight=1)], session=None,
                          affinity={}).index == 1  # fmt: skip
    assert choose_replica([Rep(3), Rep(1), Rep(2)], session=None, affinity={}).index == 1


def test_unready_draining_and_full_replicas_never_serve() -> None:
    replicas = [
        Rep(0, ready=False),
        Rep(1, draining=True),
        Rep(2, in_flight=2),
        Rep(3, in_flight=1, slots=4),
    ]
    assert choose_replica(replicas, session=None, affinity={}) is replicas[3]
    replicas[3].in_flight = 4
    assert choose_replica(replicas, session=None, affinity={}) is None
    assert choose_replica([], session="s", affinity={"s": 0}) is None


def test_a_replica_without_slots_is_full_not_a_division_by_zero() -> None:
    replicas = [Rep(0, slots=0), Rep(1, in_flight=-1)]
    assert choose_replica(replicas, session=None, affinity={}) is None


def test_a_session_stays_on_its_replica_while_it_has_a_free_slot() -> None:
    replicas = [Rep(0), Rep(1, in_flight=1)]
    assert choose_replica(replicas, session="s", affinity={"s": 1}) is replicas[1]
    assert choose_replica(replicas, session="t", affinity={"s": 1}) is replicas[0]


@pytest.mark.parametrize(
    "change",
    [{"ready": False}, {"draining": True}, {"in_flight": 2}],
    ids=["unready", "draining", "full"],
)
def test_a_session_moves_when_its_replica_cannot_serve(change: dict[str, object]) -> None:
    replicas = [Rep(0, in_flight=1), Rep(1), Rep(2)]
    for name, value in change.items():
        setattr(replicas[1], name, value)
    assert choose_replica(replicas, session="s", affinity={"s": 1}) is replicas[2]


def test_a_session_whose_replica_is_gone_moves() -> None:
    replicas = [Rep(0), Rep(1)]
    assert choose_replica(replicas, session="s", affinity={"s": 9}) is replicas[0]


def test_the_order_of_the_replicas_does_not_change_the_choice() -> None:
    replicas = [Rep(0, in_flight=1), Rep(1), Rep(2), Rep(3, in_flight=1, slots=4)]
    for order in itertools.permutations(replicas):
        assert choose_replica(order, session=None, affinity={}).index == 1  # type: ignore[union-attr]


# -- the affinity map --------------------------------------------------------------------------


def test_affinity_records_and_moves_sessions() -> None:
    affinity = Affinity()
    replicas = [Rep(0), Rep(1)]
    assert affinity.choose(replicas, "s") is replicas[0]
    replicas[0].in_flight = 1
    assert affinity.choose(replicas, "s") is replicas[0]  # stays, though 1 is idle
    assert affinity.choose(replicas, "t") is replicas[1]
    replicas[0].ready = False
    assert affinity.choose(replicas, "s") is replicas[1]
    assert dict(affinity) == {"s": 1, "t": 1}
    assert affinity.choose(replicas, None) is replicas[1]
    assert len(affinity) == 2


def test_affinity_forgets_the_oldest_session_beyond_its_size() -> None:
    affinity = Affinity(max_sessions=2)
    affinity.record("a", 0)
    affinity.record("b", 1)
    affinity.record("a", 2)  # refreshes a
    affinity.record("c", 0)
    assert list(affinity) == ["a", "c"]
    assert affinity["a"] == 2


@pytest.mark.parametrize("size", [0, -1, True, 2.5])
def test_an_affinity_needs_room_for_a_session(size: object) -> None:
    with pytest.raises(InvalidFieldError, match="max_sessions"):
        Affinity(size)  # type: ignore[arg-type]
