"""The ``gpu`` marker: tests that need an NVIDIA GPU. They skip without one, unless
``ORCA_REQUIRE_GPU`` is set (benchmarks/gpu_check.sh sets it), and
``pytest tests/pools -m gpu`` runs only them."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs an NVIDIA GPU (benchmarks/gpu_check.sh)")
