"""Every test gets its own ORCA_HOME, so none reads or writes the user's ~/.orca."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_orca_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("orca-home")
    monkeypatch.setenv("ORCA_HOME", str(home))
    return home
