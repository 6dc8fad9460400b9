"""Layered configuration: ``./.orca/orca.toml`` over ``$ORCA_HOME/orca.toml`` over the
defaults, with ``${ENV}`` expansion; CLI flags override both.

Every value is checked: an unknown key or a bad value is a ``ConfigError`` naming the
file, the key and the fix. Numbers are read as ``Decimal`` (money is never a float).
API keys are only ever named (``api_key = "${ANTHROPIC_API_KEY}"``): the variable's name
is kept, its value is read from the environment when a model is built, and it is never
written to a database or a log.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from orca.errors import ConfigError, closest

if TYPE_CHECKING:
    from orca.cost import Budget
    from orca.llm import Profile
    from orca.store import BudgetRepository

__all__ = ["Config", "load_config"]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_KEY_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ORIGIN = re.compile(r"^https?://([^/\s:*\[\]]+|\[[0-9a-fA-F:.]+\])(:\d{1,5})?$")
"""A web origin as CORS compares them: ``scheme://host[:port]``, no path, no wildcard."""
MODULE = re.compile(r"^(?!__)[A-Za-z_][A-Za-z0-9_]*(\.(?!__)[A-Za-z_][A-Za-z0-9_]*)*$")
"""A dotted Python module name without dunder parts (``[flows] python_modules``)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LLMConfig(_Section):
    """``[llm]``: which models a run calls when no profile is chosen on the command line."""

    profile: str | None = None
    provider: str | None = None
    model: str | None = None
    api_key: str | None = None
    """The environment variable holding the key, written ``${NAME}``."""
    api_base: str | None = None
    temperature: Decimal | None = Field(default=None, ge=0, le=2)
    max_tokens: int = Field(default=1024, gt=0)
    """The answer cap a block budget reserves for when a call sets none."""
    request_timeout_s: Decimal = Field(default=Decimal(120), gt=0)
    """How long one attempt of a model call waits for an answer before it gives up
    (``LLMTimeoutError``, retried ``max_retries`` times); a profile's ``timeout``
    parameter wins. A call with no answer yet logs that it is waiting."""

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str | None) -> str | None:
        if value is not None:
            from orca.llm import provider_names

            known = provider_names()
            if value not in known:
                raise ValueError(
                    f"unknown provider{closest(value, known)}; use one of {', '.join(known)}"
                )
        return value

    @field_validator("api_key")
    @classmethod
    def _key_is_a_reference(cls, value: str | None) -> str | None:
        if value is not None and not _KEY_REF.fullmatch(value):
            raise ValueError(
                "write the environment variable that holds the key, as api_key = "
                '"${ANTHROPIC_API_KEY}"; keys themselves never go in a file'
            )
        return value

    def key_env(self) -> str | None:
        match = _KEY_REF.fullmatch(self.api_key) if self.api_key else None
        return match.group(1) if match else None


class ExecutionConfig(_Section):
    """``[execution]``: how runs execute."""

    streaming: bool = True
    workspace_root: Path | None = None
    max_concurrent_tasks: int | None = Field(default=None, gt=0)
    task_timeout: Decimal | None = Field(default=None, gt=0)
    max_iterations: int = Field(default=5, gt=0)
    max_steps: int = Field(default=100, gt=0)
    durability: Literal["sync", "async", "exit"] = "sync"


class BudgetConfig(_Section):
    """``[budget]``: the budget runs are charged to, and what happens when it is out."""

    name: str = "default"
    type: Literal["credit", "recurring"] = "credit"
    unit: Literal["usd", "tokens"] = "usd"
    amount: Decimal | None = Field(default=None, gt=0)
    """In dollars (or tokens with unit = "tokens"); creates the budget when missing."""
    period: Literal["daily", "weekly", "monthly"] | None = Field(
        default=None, validate_default=True
    )
    enforcement: Literal["warn", "block"] = "block"
    thresholds: list[int] = Field(default_factory=lambda: [80, 100])
    timezone: str = "UTC"
    on_exceeded: Literal["fail", "pause"] = "fail"
    hold_ttl: Decimal = Field(default=Decimal(600), gt=0)

    @field_validator("period")
    @classmethod
    def _period_fits_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (info.data.get("type") == "recurring") != (value is not None):
            raise ValueError(
                "a recurring budget needs period = daily, weekly or monthly, and a credit "
                "budget has none"
            )
        return value

    @field_validator("amount")
    @classmethod
    def _whole_tokens(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if info.data.get("unit") == "tokens" and value is not None and value % 1:
            raise ValueError("a tokens budget counts whole tokens: give a whole amount")
        return value


class WorkflowConfig(_Section):
    """``[workflow]``: the default workflow of ``orca run``."""

    default: str | None = None
    """``PATH[:graph]`` run when ``orca run`` is given none."""


class ToolsConfig(_Section):
    """``[tools]``: the policy tools run under (see ``orca.tools.Policy``)."""

    allow: list[str] | None = None
    """Tool names allowed (``*`` globs); None: every registered tool."""
    deny: list[str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)
    """Hosts http_fetch may reach (``*.example.com``; ``*`` for any public host)."""
    allow_networks: list[str] = Field(default_factory=list)
    """Private networks (CIDR) http_fetch may reach anyway, e.g. ``127.0.0.1/32``."""
    shell_env: list[str] = Field(default_factory=lambda: ["PATH", "HOME", "LANG", "LC_ALL", "TZ"])
    sandbox_network: list[str] = Field(default_factory=list)
    """Tools (names, ``*`` globs) whose sandbox shares the host's network; others have none."""
    allow_unsandboxed_shell: bool = False
    """Run shell and python tools on the host, unisolated, where bubblewrap is missing."""
    max_output_bytes: int = Field(default=64 * 1024, gt=0)
    timeout: Decimal = Field(default=Decimal(30), gt=0)
    redact: bool = True
    redact_checkpoints: bool = False

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names it
        return value

    def policy(self) -> Any:
        """The ``orca.tools.Policy`` these settings describe."""
        from orca.tools import Policy

        return Policy(
            allow=None if self.allow is None else tuple(self.allow),
            deny=tuple(self.deny),
            domains=tuple(self.domains),
            allow_networks=tuple(self.allow_networks),
            shell_env=tuple(self.shell_env),
            sandbox_network=tuple(self.sandbox_network),
            allow_unsandboxed_shell=self.allow_unsandboxed_shell,
            max_output_bytes=self.max_output_bytes,
            timeout=float(self.timeout),
            redact=self.redact,
            redact_checkpoints=self.redact_checkpoints,
        )


OIDCRole = Literal["admin", "operator", "viewer"]
"""The roles an OIDC token's role claim maps to (``[server.oidc] role_map``)."""
_OIDC_ROLE_MAP: dict[str, OIDCRole] = {"admin": "admin", "operator": "operator", "viewer": "viewer"}
_OIDC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_LOOPBACK_HOSTS = re.compile(r"^(localhost|127(\.\d{1,3}){3}|\[::1\])$")


def _issuer_url(value: str, key: str) -> str:
    """``value`` if it is an https URL, or http to a loopback host (a test issuer)."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    loopback = parts.scheme == "http" and _LOOPBACK_HOSTS.match(parts.netloc.rsplit(":", 1)[0])
    if not parts.netloc or (parts.scheme != "https" and not loopback) or parts.query:
        raise ValueError(
            f"{key} must be an https URL (http only for a loopback host), such as "
            '"https://login.example.com/realms/acme"'
        )
    return value


class OIDCConfig(_Section):
    """``[server.oidc]``: OAuth 2.0 / OIDC bearer tokens (JWTs) from one issuer, accepted
    beside Orca's own tokens (see "OIDC" in docs/server.md)."""

    issuer: str
    """The issuer's URL, exactly as its tokens' ``iss`` claim says: https, or http for a
    loopback host only."""
    audience: str
    """What the tokens' ``aud`` claim must hold (this server's API identifier)."""
    jwks_uri: str | None = None
    """The issuer's signing keys; default: ``jwks_uri`` of the issuer's
    ``/.well-known/openid-configuration``."""
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    """The signature algorithms taken (asymmetric only: never ``none``, never HS*)."""
    leeway_s: int = Field(default=60, ge=0, le=600)
    """The clock skew allowed on ``exp``, ``nbf`` and ``iat``, in seconds."""
    tenant_claim: str = Field(default="org", min_length=1)
    """The claim naming the caller's tenant (required in every token)."""
    role_claim: str = Field(default="orca_role", min_length=1)
    """The claim naming the caller's role, mapped by ``role_map``."""
    role_map: dict[str, OIDCRole] = Field(default_factory=lambda: dict(_OIDC_ROLE_MAP))
    """The role claim's values and the Orca role each gives (a value not listed: 403)."""
    client_id: str | None = None
    """The public client the web UI signs in as (authorization code with PKCE); without
    it the UI offers no SSO sign-in."""

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        return _issuer_url(value, "issuer")

    @field_validator("jwks_uri")
    @classmethod
    def _jwks(cls, value: str | None) -> str | None:
        return None if value is None else _issuer_url(value, "jwks_uri")

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if a not in _OIDC_ALGORITHMS]
        if bad or not value:
            raise ValueError(
                f"algorithms {bad or value} are not taken: list asymmetric ones only, from "
                f"{', '.join(sorted(_OIDC_ALGORITHMS))} (never none, never HS256/384/512)"
            )
        return value


class ServerConfig(_Section):
    """``[server]``: what ``orca serve`` serves and where."""

    host: str = "127.0.0.1"
    """The address to listen on: loopback only, unless the server requires tokens."""
    port: int = Field(default=8700, ge=1, le=65535)
    workflows: list[str] = Field(default_factory=list)
    """The workflows served, as ``PATH[:graph]`` (relative to the project) or
    ``package.module[:graph]``."""
    max_body_bytes: int = Field(default=1 << 20, gt=0)
    """The largest request body taken; a larger one is answered 413."""
    webhook_networks: list[str] = Field(default_factory=list)
    """Private networks (CIDR) a run's webhook may reach anyway (public hosts always)."""
    auth: Literal["auto", "tokens", "oidc", "none"] = "auto"
    """Bearer tokens: ``auto`` requires them once the project holds a live one (made with
    ``orca token create``) or ``[server.oidc]`` is set, ``tokens`` always, ``oidc``
    always (``[server.oidc]`` required; Orca's tokens are taken too), ``none`` never (then
    loopback only, and no ``[server.oidc]``)."""
    oidc: OIDCConfig | None = Field(default=None, validate_default=True)
    """OIDC bearer tokens beside Orca's own (``[server.oidc]``); auth is on with it."""

    @field_validator("oidc")
    @classmethod
    def _oidc_auth(cls, value: OIDCConfig | None, info: ValidationInfo) -> OIDCConfig | None:
        auth = info.data.get("auth")
        if auth == "oidc" and value is None:
            raise ValueError(
                'auth = "oidc" needs [server.oidc] with issuer and audience; add it, or '
                'write auth = "auto"'
            )
        if auth == "none" and value is not None:
            raise ValueError(
                'auth = "none" turns auth off, but [server.oidc] is set (OIDC keeps auth '
                'on); remove [server.oidc], or write auth = "auto"'
            )
        return value

    cors_origins: list[str] = Field(default_factory=list)
    """The exact origins (``scheme://host[:port]``) whose pages may call the server;
    none by default (CORS closed)."""

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: list exact ones, scheme://host[:port] "
                    'with no path or wildcard, e.g. ["http://localhost:5173"]'
                )
        return value

    max_running_runs: int = Field(default=16, gt=0)
    """Runs that execute at once; more wait in the runs queue."""
    max_queued_runs: int = Field(default=1000, ge=0)
    """Runs that may wait; beyond that the admission policy decides (429 by default)."""
    max_running_tasks: int = Field(default=4, gt=0)
    """LLM tasks that execute at once; more wait in the tasks queue."""
    max_queued_tasks: int = Field(default=256, ge=0)
    """LLM tasks that may wait; beyond that the admission policy decides."""
    tenant_max_running_runs: int | None = Field(default=None, gt=0)
    """One tenant's share of ``max_running_runs`` (default: all of them; a free slot
    goes to the tenant running the fewest either way)."""
    tenant_max_queued_runs: int | None = Field(default=None, ge=0)
    """One tenant's share of ``max_queued_runs`` (default: all of it); beyond, its new
    runs are a 429 while other tenants' are still taken."""
    tenant_max_running_tasks: int | None = Field(default=None, gt=0)
    """One tenant's share of ``max_running_tasks`` (default: all of them)."""
    tenant_max_queued_tasks: int | None = Field(default=None, ge=0)
    """One tenant's share of ``max_queued_tasks`` (default: all of it)."""
    admission_policy: Literal["reject", "drop-lru", "shed-low-priority"] = "reject"
    """What gives when a queue is full: the new work (``reject``, a 429), the queued work
    that waited longest (``drop-lru``), or queued batch work for interactive work
    (``shed-low-priority``)."""
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """The models LLM tasks may name by ``model_ref`` (``[server.models.NAME]`` with
    ``provider``, ``model``, params and ``max_context``); local engines only from here."""
    session_ttl_s: int = Field(default=600, gt=0)
    """How long an LLM-task session lives after its last turn."""
    workers: Literal["inline", "external"] = "inline"
    """Who executes the runs: this server (``inline``), or ``orca worker`` processes
    claiming them from the project's run queue (``external``, see docs/deploy.md)."""


class WorkerConfig(_Section):
    """``[worker]``: what ``orca worker`` claims, how many runs at once, its lease, and the
    limits every worker keeps together."""

    queues: list[str] = Field(default_factory=lambda: ["default"], min_length=1)
    concurrency: int = Field(default=4, gt=0, le=1024)
    """Runs one worker process executes at once."""
    lease_s: float = Field(default=30.0, ge=1, le=3600)
    """How long a claimed run stays with a worker that stopped renewing it; then another
    worker takes it up from its last checkpoint."""
    grace_s: float = Field(default=30.0, ge=0, le=86400)
    """At SIGTERM, how long the worker lets its runs finish before giving them back."""
    max_running_per_queue: dict[str, int] = Field(default_factory=dict)
    """Runs of each queue that may run at once across all workers (``"*"``: each one
    not named)."""
    max_running_per_workflow: dict[str, int] = Field(default_factory=dict)
    max_running_per_tenant: dict[str, int] = Field(default_factory=dict)

    @field_validator("max_running_per_queue", "max_running_per_workflow", "max_running_per_tenant")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        for key, n in value.items():
            if n <= 0:
                raise ValueError(f"the limit of {key!r} must be 1 or more, got {n}")
        return value


class FlowsConfig(_Section):
    """``[flows]``: declarative workflows (``orca.flow/v1``, see docs/workflows.md)."""

    python_modules: list[str] = Field(default_factory=list)
    """The modules (dotted prefixes, e.g. ``mypkg.nodes``) whose functions ``python``
    nodes of flows saved on the server may run; none by default. A flow file the user
    runs (``orca run flow.yaml``, ``[server] workflows``) may name any module."""

    @field_validator("python_modules")
    @classmethod
    def _modules(cls, value: list[str]) -> list[str]:
        for name in value:
            if not MODULE.match(name):
                raise ValueError(
                    f"{name!r} is not a module name: list dotted Python module names "
                    'such as "mypkg.nodes" (no ":function", no dunder names)'
                )
        return value


class StoreConfig(_Section):
    """``[store]``: where Orca keeps its data."""

    url: str | None = None
    """One store for every repository (``postgresql://USER:PASSWORD@HOST:PORT/DB`` or
    ``sqlite:///PATH``); unset, the two SQLite files (``$ORCA_HOME/orca.db`` and the
    project's ``.orca/project.db``). ``--store`` and ``ORCA_STORE`` win over it. Write
    the password as ``${VAR}`` so that it stays out of the file."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        from orca.store import parse_url

        if value is None:
            return None
        try:
            parse_url(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


class SecretsConfig(_Section):
    """``[secrets]``: the master key that seals the provider keys tenants store (see
    docs/secrets.md)."""

    key_file: str | None = None
    """A file holding the master key (base64 of 32 bytes), absolute or ``~/...``; it must
    exist. ``ORCA_SECRET_KEY`` wins over it; unset, ``$ORCA_HOME/secret.key`` (made 0600
    on the first secret stored)."""

    @field_validator("key_file")
    @classmethod
    def _key_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_absolute():
            raise ValueError(
                f"{value!r} is relative: write an absolute path (or ~/...), so that every "
                "process reads the same key whatever its working directory"
            )
        return value


class CatalogConfig(_Section):
    """``[catalog]``: the model catalog's trust policy (see docs/pools.md)."""

    trust: Literal["strict", "permissive"] = "strict"
    """``strict``: only verified models that are active or canary may be loaded;
    ``permissive``: any model that is neither untrusted nor retired."""


class LoggingConfig(_Section):
    """``[logging]``."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "human"] = "human"
    colored: bool = True
    timestamps: bool = True


class Config(_Section):
    """The merged configuration. ``sources`` lists the files read, lowest first."""

    llm: LLMConfig = LLMConfig()
    execution: ExecutionConfig = ExecutionConfig()
    budget: BudgetConfig = BudgetConfig()
    workflow: WorkflowConfig = WorkflowConfig()
    logging: LoggingConfig = LoggingConfig()
    tools: ToolsConfig = ToolsConfig()
    server: ServerConfig = ServerConfig()
    worker: WorkerConfig = WorkerConfig()
    flows: FlowsConfig = FlowsConfig()
    store: StoreConfig = StoreConfig()
    secrets: SecretsConfig = SecretsConfig()
    catalog: CatalogConfig = CatalogConfig()
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    pools: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """``[pools.NAME]``: the local engine pools ``orca serve`` starts (see docs/pools.md;
    checked when the server starts: ``orca.pools.pool_configs``)."""
    sources: list[str] = Field(default_factory=list)

    def run_options(self) -> dict[str, Any]:
        """The engine options that ``[execution]``, ``[llm]`` and ``[budget]`` set for every
        run, whoever starts it (``orca run`` and ``orca serve`` alike)."""
        ex = self.execution
        options: dict[str, Any] = {
            "on_budget_exceeded": self.budget.on_exceeded,
            "max_tokens": self.llm.max_tokens,
            "max_steps": ex.max_steps,
            "durability": ex.durability,
        }
        if ex.max_concurrent_tasks:
            options["max_concurrency"] = ex.max_concurrent_tasks
        return options

    def secret_keys(self) -> Any:
        """Where stored secrets' master key comes from (an ``orca.store.KeySource``):
        ``ORCA_SECRET_KEY``, else ``[secrets] key_file``, else ``$ORCA_HOME/secret.key``.
        Give it to a store (``SqliteStore(..., secret_keys=)``) before its ``secrets``."""
        from orca.store import KeySource

        return KeySource(self.secrets.key_file)

    def tool_options(self, project: Path) -> dict[str, Any]:
        """The run options a workflow's tools get in ``project``, whoever runs it (``orca
        run`` and ``orca serve`` alike): the workspace and the ``[tools]`` policy of this
        configuration, every execution audited in the project's database."""
        from orca.store import project_db_path

        return {
            "workspace": self.execution.workspace_root or project,
            "policy": self.tools.policy(),
            "audit": project_db_path(project),
        }

    def profile(self, name: str | None = None) -> Profile | None:
        """The profile a run uses: ``name`` (or ``[llm] profile``) from the config's
        ``[profiles]`` or the user database; else one made of ``[llm] provider/model``;
        else None (the active stored profile applies).

        Raises:
            UnknownProfileError: the name is neither in the config nor stored.
        """
        from orca.llm import ModelSpec, Profile
        from orca.llm._meter import load_profile

        name = name or self.llm.profile
        if name is not None:
            if name in self.profiles:
                return Profile.from_dict(name, _profile_table(self.profiles[name]))
            return load_profile(name)
        llm = self.llm
        if llm.provider is None and llm.model is None:
            return None
        params: dict[str, Any] = {}
        if llm.api_base:
            params["base_url"] = llm.api_base
        if llm.temperature is not None:
            params["temperature"] = float(llm.temperature)
        if llm.key_env():
            params["api_key_env"] = llm.key_env()
        spec = ModelSpec.from_dict(
            {"provider": llm.provider, "model": llm.model, **params}, where="llm"
        )
        return Profile("config", spec, spec, "from [llm] in the configuration")

    def ensure_budget(self, budgets: BudgetRepository) -> Budget | None:
        """The ``[budget]`` budget, created in ``budgets`` (``user_store().ledger.budgets``)
        on first use when the config gives an amount (an existing one is never changed
        from here); None without an amount."""
        from orca.cost import Budget
        from orca.errors import UnknownBudgetError

        b = self.budget
        if b.amount is None:
            return None
        try:
            return budgets.get(b.name)
        except UnknownBudgetError:
            pass
        fields: dict[str, Any] = {
            "kind": b.type,
            "period": b.period,
            "enforcement": b.enforcement,
            "thresholds": tuple(b.thresholds),
            "timezone": b.timezone,
        }
        if b.unit == "usd":
            budget = Budget.usd(b.name, b.amount, **fields)
        else:
            budget = Budget(b.name, int(b.amount), "tokens", **fields)
        return budgets.create(budget)


_SECTIONS = {
    "llm",
    "execution",
    "budget",
    "workflow",
    "logging",
    "profiles",
    "tools",
    "server",
    "worker",
    "flows",
    "store",
    "secrets",
    "catalog",
    "pools",
}


@dataclass
class _Layer:
    path: str
    data: dict[str, Any] = field(default_factory=dict)


def load_config(
    project: str | Path | None = None,
    *,
    home: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Read ``$ORCA_HOME/orca.toml`` then ``<project>/.orca/orca.toml`` (either may be
    missing), expand ``${VAR}`` (``${VAR:-default}`` for a default), apply ``overrides``
    (dotted keys such as ``"budget.name"``, from CLI flags), and check everything.

    Raises:
        ConfigError: a file that is not TOML, an unknown section or key (the closest is
            suggested), a bad value, or an unset variable; each names the file and key.
    """
    from orca.store import find_project, orca_home

    env = os.environ if env is None else env
    files = [
        Path(home) / "orca.toml" if home is not None else orca_home() / "orca.toml",
        find_project(project) / ".orca" / "orca.toml",
    ]
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}  # dotted key -> the file that set it
    sources = []
    seen: set[Path] = set()
    for path in files:
        if not path.is_file() or path.resolve() in seen:
            continue
        seen.add(path.resolve())
        layer = _read(path, env)
        sources.append(str(path))
        _merge(merged, layer.data, origin, layer.path, "")
    if overrides:
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, _, key = dotted.partition(".")
            table = merged.setdefault(section, {})
            if not isinstance(table, dict):
                raise ConfigError(
                    f"{_origin_of(section, origin)}: {section} must be a table",
                    key=section,
                    fix=f"write [{section}] followed by its keys",
                )
            table[key] = value
            origin[dotted] = "the command line"
    _check_keys(merged, origin)
    try:
        return Config(**merged, sources=sources)
    except ValidationError as exc:
        problem = exc.errors()[0]
        dotted = ".".join(str(p) for p in problem["loc"])
        where = _origin_of(dotted, origin)
        # a value given for a key is never echoed: it may be the key itself
        shown = "" if "key" in dotted or dotted == "store.url" else f" = {problem.get('input')!r}"
        raise ConfigError(
            f"{where}: {dotted}{shown} is not valid ({problem['msg']})",
            key=dotted,
            fix=f"correct {dotted} in {where}",
        ) from None


def _read(path: Path, env: Mapping[str, str]) -> _Layer:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f, parse_float=Decimal)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path} is not valid TOML ({exc})", key=None, fix=f"correct the syntax of {path}"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path} ({exc.strerror})", key=None, fix=f"make {path} readable"
        ) from None
    return _Layer(str(path), _expand(data, env, str(path), ""))


def _expand(value: Any, env: Mapping[str, str], path: str, key: str) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, env, path, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, path, key) for v in value]
    if not isinstance(value, str) or key.endswith("api_key"):
        return value  # an API key stays a reference: its value is read at call time

    def lookup(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(
            f"{path}: {key} uses ${{{name}}}, which is not set",
            key=key,
            fix=f"export {name}=..., or write ${{{name}:-default}} in {path}",
        )

    return _ENV.sub(lookup, value)


def _merge(
    into: dict[str, Any], layer: dict[str, Any], origin: dict[str, str], path: str, prefix: str
) -> None:
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        origin[dotted] = path
        if isinstance(value, dict):
            if not isinstance(into.get(key), dict):
                into[key] = {}
            _merge(into[key], value, origin, path, f"{dotted}.")
        else:
            into[key] = value


def _origin_of(dotted: str, origin: Mapping[str, str]) -> str:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        found = origin.get(".".join(parts[:n]))
        if found:
            return found
    return "the configuration"


def _check_keys(merged: Mapping[str, Any], origin: Mapping[str, str]) -> None:
    for section, table in merged.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"{_origin_of(section, origin)}: unknown section [{section}]"
                f"{closest(section, sorted(_SECTIONS))}",
                key=section,
                fix=f"use the sections {', '.join(sorted(_SECTIONS))}",
            )
        if not isinstance(table, dict):
            raise ConfigError(
                f"{_origin_of(section, origin)}: {section} must be a table",
                key=section,
                fix=f"write [{section}] followed by its keys",
            )
        if section == "profiles":
            _check_profiles(table, origin)
            continue
        if section == "pools":  # [pools.NAME]: each checked whole when a server starts
            for name, body in table.items():
                if not isinstance(body, dict):
                    raise ConfigError(
                        f"{_origin_of(f'pools.{name}', origin)}: pools.{name} must be a table",
                        key=f"pools.{name}",
                        fix=f'write [pools.{name}] with model = "..." (orca model list)',
                    )
            continue
        model = Config.model_fields[section].annotation
        known = sorted(model.model_fields) if isinstance(model, type) else []
        for key in table:
            if key not in known:
                dotted = f"{section}.{key}"
                raise ConfigError(
                    f"{_origin_of(dotted, origin)}: unknown key {dotted}{closest(key, known)}",
                    key=dotted,
                    fix=f"[{section}] takes {', '.join(known)}",
                )


def _check_profiles(table: Mapping[str, Any], origin: Mapping[str, str]) -> None:
    from orca.llm import Profile

    for name, body in table.items():
        if not isinstance(body, dict):
            raise ConfigError(
                f"{_origin_of(f'profiles.{name}', origin)}: profiles.{name} must be a table",
                key=f"profiles.{name}",
                fix=f"write [profiles.{name}.planner] and [profiles.{name}.worker] tables",
            )
        try:
            Profile.from_dict(name, _profile_table(body))
        except ConfigError as exc:
            where = _origin_of(f"profiles.{name}", origin)
            key = exc.key or ""
            if not key.startswith("profiles."):
                role = next(
                    (r for r in ("planner", "worker") if _spec_fails(body.get(r))), "planner"
                )
                key = f"profiles.{name}.{role}.{key}"
            message = f"{where}: {exc}".split(". Fix:")[0]
            raise ConfigError(message, key=key, fix=exc.fix) from None


def _spec_fails(table: Any) -> bool:
    from orca.llm import ModelSpec

    try:
        ModelSpec.from_dict(_plain(table))
    except (ConfigError, TypeError, AttributeError):
        return True
    return False


def _plain(value: Any) -> Any:
    """Model parameters as the SDKs take them: TOML's Decimals become int or float (a
    temperature is not money)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _profile_table(body: Mapping[str, Any]) -> dict[str, Any]:
    """A ``[profiles.NAME]`` table ready for ``Profile.from_dict``: plain numbers, and
    ``api_key = "${VAR}"`` kept as the variable's name (``api_key_env``)."""
    table: dict[str, Any] = _plain(dict(body))
    for role in ("planner", "worker"):
        spec = table.get(role)
        if isinstance(spec, dict) and isinstance(spec.get("api_key"), str):
            match = _KEY_REF.fullmatch(spec["api_key"])
            if match:
                spec["api_key_env"] = match.group(1)
                del spec["api_key"]
    return table
