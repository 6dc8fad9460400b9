"""The public API is deliberate: these names, and no others, are exported."""

import subprocess
import sys

import orca
import orca.checkpoint
import orca.engine
import orca.errors
import orca.events
import orca.graph


def test_orca_exports_exactly_the_public_api() -> None:
    assert sorted(orca.__all__) == sorted(
        [
            "END",
            "START",
            "Checkpointer",
            "Command",
            "CompiledGraph",
            "Durability",
            "Interrupt",
            "MemoryCheckpointer",
            "RetryPolicy",
            "RunContext",
            "Send",
            "SqliteCheckpointer",
            "StateGraph",
            "StateSnapshot",
            "__version__",
            "errors",
            "events",
            "interrupt",
            "reducers",
        ]
    )


def test_every_exported_name_exists() -> None:
    for module in (orca, orca.checkpoint, orca.engine, orca.errors, orca.events, orca.graph):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name} is exported but missing"


def test_every_error_derives_from_orca_error_and_a_builtin() -> None:
    for name in orca.errors.__all__:
        obj = getattr(orca.errors, name)
        if not isinstance(obj, type) or name == "NodeInterrupt":
            continue
        assert issubclass(obj, orca.errors.OrcaError), name
        if obj is not orca.errors.OrcaError:
            assert issubclass(obj, ValueError | RuntimeError | LookupError), name


def test_node_interrupt_is_not_caught_by_except_exception() -> None:
    assert not issubclass(orca.errors.NodeInterrupt, Exception)


def test_the_errors_docstring_names_every_error() -> None:
    doc = orca.errors.__doc__ or ""
    for name in orca.errors.__all__:
        assert name in doc, f"{name} is missing from the tree in orca/errors.py"


def test_cli_prints_the_version() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from orca.cli import main; main()", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"orca {orca.__version__}"


def test_cli_rejects_an_unknown_option_with_usage_error() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from orca.cli import main; main()", "--bogus"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "No such option" in out.stderr


def test_the_llm_cost_and_store_packages_export_exactly_their_api() -> None:
    import orca.cost
    import orca.llm
    import orca.store

    assert sorted(orca.llm.__all__) == sorted(
        [
            "LLM",
            "ChatModel",
            "ChatRequest",
            "ChatResponse",
            "ChatStream",
            "Delta",
            "ImagePart",
            "Message",
            "Meter",
            "ModelSpec",
            "Models",
            "Profile",
            "Profiles",
            "ProviderModel",
            "StopReason",
            "TextPart",
            "ToolCall",
            "ToolSpec",
            "Usage",
            "make_model",
            "provider_names",
        ]
    )
    assert sorted(orca.cost.__all__) == sorted(
        [
            "LOCAL_PROVIDERS",
            "NANO_PER_USD",
            "Alert",
            "Bucket",
            "Budget",
            "BudgetStatus",
            "CallContext",
            "Charge",
            "GroupBy",
            "Hold",
            "Overdraft",
            "RunUsage",
            "Settlement",
            "SweepResult",
            "UsageRow",
            "check_report",
            "crossed_thresholds",
            "period_bounds",
            "Price",
            "PriceBook",
            "Repricing",
            "TokenCounts",
            "Usage",
            "format_usd",
            "to_nano",
            "to_usd",
        ]
    )
    import orca.trace

    assert sorted(orca.trace.__all__) == ["Span", "chrome_trace", "otlp_json", "spans_of"]
    import orca.tools

    assert sorted(orca.tools.__all__) == [
        "AgentState",
        "Audit",
        "BoundTools",
        "Policy",
        "SandboxStatus",
        "Tool",
        "ToolEnv",
        "ToolResult",
        "Tools",
        "agent_node",
        "builtin_tools",
        "create_agent",
        "file_tools",
        "http_fetch_tool",
        "python_tool",
        "redact",
        "redact_text",
        "sandbox_status",
        "shell_tool",
        "tool",
    ]
    assert orca.llm.Usage is orca.cost.Usage  # one usage value from provider to ledger
    for name in orca.tools.__all__:
        assert getattr(orca.tools, name) is not None
    assert sorted(orca.store.__all__) == [
        "BudgetRepository",
        "CatalogModel",
        "CatalogRepository",
        "ConfigurationRepository",
        "DEFAULT_TENANT",
        "EventHit",
        "FlowRepository",
        "FlowSummary",
        "FlowVersionInfo",
        "KeySource",
        "LedgerRepository",
        "Limits",
        "ModelRecord",
        "NodeTimes",
        "PriceRepository",
        "ProfileRecord",
        "ProfileRepository",
        "QueueItem",
        "RunFilter",
        "RunQueue",
        "RunStats",
        "RunViews",
        "SCOPES",
        "STORE_ENV",
        "SavedFlow",
        "SecretRecord",
        "SecretRepository",
        "Semver",
        "SqliteAudit",
        "SqliteCheckpointer",
        "SqliteFlows",
        "SqliteLedger",
        "SqliteRunViews",
        "SqliteStore",
        "SqliteTokens",
        "Store",
        "StoreCheckpointer",
        "StoreURL",
        "TENANT_ENV",
        "TenantRecord",
        "TenantRepository",
        "TokenRecord",
        "TokenRepository",
        "ToolAudit",
        "ToolExecution",
        "UsageRepository",
        "UserStore",
        "check_flow_name",
        "check_profile_name",
        "check_tenant",
        "configured_url",
        "current_tenant",
        "find_project",
        "open_store",
        "orca_home",
        "parse_url",
        "project_db_path",
        "project_store",
        "user_db_path",
        "user_store",
    ]
    for module in (orca.llm, orca.cost, orca.store):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name} is exported but missing"


def test_importing_orca_llm_does_not_load_the_provider_sdks() -> None:
    code = (
        "import sys, orca, orca.llm, orca.cost; "
        "print(sorted(m for m in ('openai', 'anthropic', 'llama_cpp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
