"""Saved flows: a flow checked and kept as a version of the project's store
(``FlowRepository``), found again by ``NAME@VERSION`` (or ``NAME``: its latest), and the
resolver ``subflow`` nodes use to reach saved flows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from orca.errors import FlowError, InvalidFieldError

if TYPE_CHECKING:
    from orca.store import FlowRepository, FlowVersionInfo

LATEST = "latest"
FILE_SUFFIXES = (".json", ".yaml", ".yml")


def split_ref(ref: str) -> tuple[str, str]:
    """``NAME@VERSION`` as (name, version); ``NAME`` alone as (name, ``latest``).

    Raises:
        InvalidFieldError: the name or version is malformed (field ``workflow``).
    """
    from orca.store import Semver, check_flow_name

    name, sep, version = ref.partition("@")
    try:
        check_flow_name(name)
        if sep and version != LATEST:
            version = str(Semver.parse(version))
    except InvalidFieldError as exc:
        raise InvalidFieldError(exc.message, field="workflow", fix=exc.fix) from None
    return name, version if sep else LATEST


def is_saved_ref(ref: str) -> bool:
    """Whether ``ref`` may name a saved flow (``NAME`` or ``NAME@VERSION``), rather than
    a file or anything else."""
    try:
        split_ref(ref)
    except InvalidFieldError:
        return False
    return not ref.lower().endswith(FILE_SUFFIXES)


def store_resolver(
    repo: FlowRepository, *, files: Callable[[str], Any] | None = None
) -> Callable[[str], Any]:
    """``resolve_flow`` for ``subflow`` nodes: a saved ``NAME@VERSION`` (or ``NAME``) is
    read from ``repo``; a file reference is given to ``files`` when there is one, else
    refused (a server never reads files a request names).

    The resolver raises ``LookupError`` naming what is missing."""

    def resolve(ref: str) -> Any:
        if is_saved_ref(ref):
            name, version = split_ref(ref)
            saved = repo.get(name, version)
            if saved is None:
                known = [f.name for f in repo.flows()]
                raise LookupError(
                    f"no saved flow {ref!r} (saved: {', '.join(known) or 'none'}); save it "
                    "first with orca flows save FILE or POST /v1/flows"
                )
            return saved.flow
        if files is None:
            raise LookupError(
                f"subflow {ref[:200]!r} is not a saved flow: here a subflow names a saved "
                "flow, NAME or NAME@VERSION"
            )
        return files(ref)

    return resolve


def save_flow(
    repo: FlowRepository,
    data: Any,
    *,
    version: str | None = None,
    message: str | None = None,
    tools: Sequence[Any] | None = None,
    python_modules: Sequence[str] | None = None,
    resolve_flow: Callable[[str], Any] | None = None,
) -> tuple[FlowVersionInfo, bool]:
    """Check the flow ``data`` holds and save it as a version of its name (see
    ``FlowRepository.put``: the same content as the latest gives the latest back, False).
    The document is kept as given (canvas positions too); its hash leaves them out.

    Raises:
        FlowError: the flow is invalid (every problem in ``issues``).
        InvalidFieldError: a malformed version or message.
        FlowVersionExistsError: ``version`` is saved with other content.
    """
    from orca.flows._read import read_doc
    from orca.flows._spec import content_hash
    from orca.flows._validate import check

    if message is not None and len(message) > 2000:
        raise InvalidFieldError(
            f"the message is {len(message)} characters", field="message", fix="say it in 2000"
        )
    document, issues = read_doc(data)
    if issues:
        raise FlowError(issues)
    flow, issues = check(
        document, tools=tools, python_modules=python_modules, resolve_flow=resolve_flow
    )
    if flow is None:
        raise FlowError(issues)
    return repo.put(flow.name, dict(document), content_hash(flow), version=version, message=message)
