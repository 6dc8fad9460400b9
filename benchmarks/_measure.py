"""Warm-up plus repeated, interleaved trials; median/min/max of each figure."""

import gc
import statistics
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# A trial runs a workload once and returns {figure id: value in the figure's unit}.
Trial = Callable[[], Mapping[str, float]]


@dataclass
class Series:
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)


@dataclass
class Samples:
    series: dict[str, dict[str, Series]] = field(default_factory=dict)  # engine -> figure
    errors: dict[str, str] = field(default_factory=dict)  # engine -> error text

    def get(self, engine: str, figure: str) -> Series | None:
        return self.series.get(engine, {}).get(figure)


def elapsed(start_ns: int) -> float:
    """Seconds since a time.perf_counter_ns() reading."""
    return (time.perf_counter_ns() - start_ns) / 1e9


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).strip()


def sample(trials: Mapping[str, Trial], reps: int, warmup: int = 1) -> Samples:
    """Run every engine's trial `warmup` times, then `reps` times.

    Engines take turns within each repetition (the order flips every repetition) so
    that a slow spell on the shared machine hits both sides alike.  An engine whose
    trial raises is dropped from the remaining repetitions and its error recorded.
    """
    out = Samples()
    live = dict(trials)
    for rep in range(warmup + reps):
        names = list(live) if rep % 2 == 0 else list(reversed(live))
        for name in names:
            gc.collect()
            try:
                figures = live[name]()
            except Exception as exc:
                out.errors[name] = _describe(exc)
                del live[name]
                continue
            if rep < warmup:
                continue
            for figure, value in figures.items():
                out.series.setdefault(name, {}).setdefault(figure, Series()).values.append(value)
    return out
