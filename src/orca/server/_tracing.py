"""A request's place in the traces: its route template, and an OpenTelemetry server span
per request whose context (and correlation id) the runs it starts inherit, so a run's
span is the child of the request that started it.

Like the runs' spans, nothing is made unless an OpenTelemetry SDK tracer provider is
configured in the process (``orca serve`` sets one up from the ``OTEL_*`` variables).
"""

from __future__ import annotations

import sys
from typing import Any

from orca.observe import correlation


def route_of(scope: Any, app: Any) -> str:
    """The route template that answers (``/v1/runs/{run_id}``): the one routing chose,
    else the one that would have (a request refused before routing, as a 401 is), else
    ``(unmatched)``."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "(unmatched)"))
    from starlette.routing import Match

    for candidate in getattr(app, "routes", ()):
        try:
            match, _ = candidate.matches(scope)
        except Exception:  # a route that cannot judge this scope is not it
            continue
        if match is Match.FULL:
            return str(getattr(candidate, "path", "(unmatched)"))
    return "(unmatched)"


def _tracer() -> Any:
    """Orca's tracer when an SDK provider is configured, else None."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    from orca._version import __version__

    return provider.get_tracer("orca.server", __version__)


class RequestSpans:
    """ASGI middleware, inside the correlation middleware: the request's correlation id
    becomes the one of every run it starts (``orca.observe.correlation``) and, with an
    SDK configured, a ``SERVER`` span covers the request (to the end of a stream's body)
    with its route, status and correlation id, current while the app answers. A W3C
    ``traceparent`` header makes it the child of the caller's span. (FastAPI's own
    request spans, in versions that make them, are turned off in ``create_app``: one
    server span per request.)"""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # set by the correlation middleware, outside this one
        correlation_id = str(scope.get("state", {}).get("correlation_id") or "server")
        tracer = _tracer()
        if tracer is None:
            with correlation(correlation_id):
                await self.app(scope, receive, send)
            return
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind, Status, StatusCode

        method = scope["method"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status = 500

        async def sent(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with (
            correlation(correlation_id),
            tracer.start_as_current_span(
                method,
                context=propagate.extract(headers),  # a caller's traceparent continues
                kind=SpanKind.SERVER,
                attributes={
                    "http.request.method": method,
                    "url.path": scope["path"],
                    "orca.correlation_id": correlation_id,
                },
                # recorded below, redacted: an exception's text may quote a credential
                record_exception=False,
                set_status_on_exception=False,
            ) as span,
        ):
            try:
                await self.app(scope, receive, sent)
            except BaseException as exc:
                _record(span, exc)
                raise
            finally:
                route = route_of(scope, scope.get("app"))
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                token = scope.get("state", {}).get("token")
                if token is not None:
                    span.set_attribute("orca.token", token.name)
                principal = scope.get("state", {}).get("principal")
                if principal is not None:  # who: subject, role, tenant (never a token)
                    span.set_attributes(principal.log_context())
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))


def _record(span: Any, exc: BaseException) -> None:
    """The exception on the span as OpenTelemetry's ``record_exception`` puts it, with
    the credentials in its message and traceback masked."""
    import traceback

    from opentelemetry.trace import Status, StatusCode

    from orca._redact import redact_text

    message = redact_text(str(exc))
    span.add_event(
        "exception",
        {
            "exception.type": type(exc).__qualname__,
            "exception.message": message,
            "exception.stacktrace": redact_text("".join(traceback.format_exception(exc))),
            "exception.escaped": "True",
        },
    )
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))


def flush_spans() -> None:
    """Export the spans still buffered, as the server stops (uvicorn ends the process by
    re-raising the signal that stopped it, so exit handlers never run)."""
    trace = sys.modules.get("opentelemetry.trace")
    flush = getattr(trace.get_tracer_provider(), "force_flush", None) if trace else None
    if flush is not None:
        flush(5000)
