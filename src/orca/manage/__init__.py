"""What the faces manage, once: budgets, profiles, prices, usage reports, the tool
audit, the server's tokens, runs listed and searched many at once, and a run's record,
timeline, events, trace and replay, as functions over the
stores that take plain values and return plain data (or Orca's own values).

The CLI (``orca budget ...``, ``orca runs show``) and the server's admin API
(``/v1/budgets``, ``/v1/runs/{id}/inspect``) both call these, so a command's ``--json``
and its endpoint answer the same data. Bad values raise ``InvalidFieldError`` naming the
field as the caller spells it (``--amount`` on the command line, ``amount`` in a body).

The modules are imported when first used (the CLI starts without the storage layer)::

    from orca.manage import budgets, profiles, prices, runs, tokens, usage, views
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the modules, typed, for the checkers (imported lazily at run time)
    from orca.manage import _budgets as budgets
    from orca.manage import _plain as plain
    from orca.manage import _prices as prices
    from orca.manage import _profiles as profiles
    from orca.manage import _runs as runs
    from orca.manage import _tokens as tokens
    from orca.manage import _usage as usage
    from orca.manage import _views as views

__all__ = ["budgets", "plain", "prices", "profiles", "runs", "tokens", "usage", "views"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"orca.manage._{name}")
    raise AttributeError(f"module 'orca.manage' has no attribute {name!r}")
