"""One error envelope on every 4xx and 5xx: ``code``, ``message``, ``engine``,
``retriable``, ``retry_after_ms``, ``policy_label`` and ``details``."""

from __future__ import annotations

from typing import Any

from orca import errors


def envelope(
    code: str,
    message: str,
    *,
    retriable: bool = False,
    details: dict[str, Any] | None = None,
    engine: str | None = None,
    retry_after_ms: int | None = None,
    policy_label: str | None = None,
) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "engine": engine,
        "retriable": retriable,
        "retry_after_ms": retry_after_ms,
        "policy_label": policy_label,
        "details": details or {},
    }


# Orca's errors as HTTP: (status, code); the first class that matches wins
_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (errors.CheckpointNotFoundError, 404, "NOT_FOUND"),
    (errors.UnknownBudgetError, 404, "NOT_FOUND"),
    (errors.UnknownProfileError, 404, "NOT_FOUND"),
    (errors.UnknownCatalogModelError, 404, "NOT_FOUND"),
    # the model catalog: a digest or name catalogued already, a refused lifecycle move,
    # a model file that is not one (a model no use may load: a pool's error, below)
    (errors.CatalogConflictError, 409, "CATALOG_CONFLICT"),
    (errors.InvalidTransitionError, 409, "INVALID_TRANSITION"),
    (errors.ModelFileError, 422, "MODEL_FILE_INVALID"),
    # a bad value of a named field: 422, as pydantic's own (details name the field)
    (errors.InvalidFieldError, 422, "INVALID_REQUEST"),
    (errors.InvalidBudgetError, 422, "INVALID_REQUEST"),
    (errors.InvalidPriceError, 422, "INVALID_REQUEST"),
    (errors.UnknownProviderError, 422, "INVALID_REQUEST"),
    (errors.ThreadBusyError, 409, "THREAD_BUSY"),
    (errors.FlowVersionExistsError, 409, "VERSION_EXISTS"),
    # an invalid flow (saved, or one a saved flow needs): every problem in details.errors
    (errors.FlowError, 422, "FLOW_INVALID"),
    (errors.WorkflowLoadError, 400, "WORKFLOW_INVALID"),
    (errors.BudgetExceeded, 402, "BUDGET_EXCEEDED"),
    (errors.CorruptDatabaseError, 500, "STORE_DAMAGED"),
    # the server's master key of stored secrets is missing or wrong: not the caller's doing
    (errors.SecretKeyError, 500, "SECRET_KEY_INVALID"),
    (errors.ConfigError, 400, "CONFIG_INVALID"),
    (errors.InvalidInputError, 400, "INVALID_INPUT"),
    (errors.StateError, 400, "INVALID_INPUT"),
    (errors.GraphError, 400, "GRAPH_INVALID"),
    # the request's own limits stopped the run before it was under way
    (errors.RunTimeoutError, 400, "RUN_LIMIT_REACHED"),
    (errors.StepLimitError, 400, "RUN_LIMIT_REACHED"),
    (errors.RunCancelledError, 409, "RUN_CANCELLED"),
    (errors.DatabaseLockedError, 503, "STORE_BUSY"),
    (errors.RateLimitedError, 429, "LLM_RATE_LIMITED"),
    (errors.OverloadedError, 503, "LLM_OVERLOADED"),
    (errors.LLMError, 502, "LLM_ERROR"),
)
_RETRIABLE = (errors.DatabaseLockedError, errors.RateLimitedError, errors.OverloadedError)


def for_error(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """The status and envelope of one of Orca's errors (500 for anything else, with no
    internals in the message)."""
    from orca.server._admission import Evicted, Overloaded

    if isinstance(exc, Overloaded):
        return 429, envelope(
            "OVERLOADED",
            str(exc).partition(". Fix: ")[0],
            retriable=True,
            retry_after_ms=exc.retry_after_ms,
            policy_label=exc.policy,
            details={"queue": exc.queue, "queue_depth": exc.depth, "fix": "retry later"},
        )
    if isinstance(exc, Evicted):
        return 503, envelope(
            "ADMISSION_EVICTED",
            str(exc).partition(". Fix: ")[0],
            retriable=True,
            policy_label=exc.policy,
            details={"queue": exc.queue},
        )
    if isinstance(exc, errors.PoolError):
        return _pool_error(exc)
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            message, _, fix = str(exc).partition(". Fix: ")
            details: dict[str, Any] = {"type": type(exc).__name__}
            if fix:
                details["fix"] = fix
            field = getattr(exc, "field", None) or getattr(exc, "key", None)
            if isinstance(field, str):
                details["field"] = field
            if isinstance(exc, errors.FlowError):
                details["errors"] = [i.to_dict() for i in exc.issues]
            wait = getattr(exc, "retry_after", None)
            return status, envelope(
                code,
                message,
                details=details,
                retriable=isinstance(exc, _RETRIABLE),
                engine=getattr(exc, "provider", None),
                retry_after_ms=int(wait * 1000) if isinstance(wait, int | float) else None,
            )
    if isinstance(exc, errors.OrcaError):
        return 500, envelope("ORCA_ERROR", str(exc), details={"type": type(exc).__name__})
    return 500, envelope("INTERNAL", "the server failed to handle the request", retriable=True)


# a pool's refusal: its own code; the status says whose move it is
_POOL_STATUS: tuple[tuple[type[errors.PoolError], int], ...] = (
    (errors.UnknownPoolError, 404),
    (errors.UntrustedArtifactError, 409),
    (errors.PlacementError, 409),
    (errors.ReloadFailedError, 409),
)


def _pool_error(exc: errors.PoolError) -> tuple[int, dict[str, Any]]:
    status = next((s for cls, s in _POOL_STATUS if isinstance(exc, cls)), 503)
    message, _, fix = str(exc).partition(". Fix: ")
    details: dict[str, Any] = {"type": type(exc).__name__, "pool": exc.pool}
    if isinstance(exc, errors.UntrustedArtifactError):
        details.update(model=exc.model, reason=exc.reason)
    if fix:
        details["fix"] = fix
    wait = exc.retry_after
    return status, envelope(
        exc.code,
        message,
        details=details,
        retriable=exc.retriable,
        retry_after_ms=int(wait * 1000) if wait is not None else None,
    )
