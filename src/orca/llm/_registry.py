"""Provider names -> model objects."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orca.errors import UnknownProviderError
from orca.llm._base import ChatModel
from orca.llm.providers.openai import PRESETS

# options that configure the client rather than each request
CLIENT_OPTIONS = frozenset({"base_url", "api_key", "max_retries", "timeout"})

KeyLookup = Callable[[str], "str | None"]
"""Where a model's API key is looked up before the environment: the name of the variable
that would hold it (``OPENAI_API_KEY``) -> the key, or None (then the environment, as
without a lookup). A tenant's stored secrets are one: ``store.secrets.reveal``."""


POOL_PROVIDER = "pool"
_pools: Callable[[str], ChatModel] | None = None


def serve_pools(models: Callable[[str], ChatModel] | None) -> None:
    """Make ``pool`` models (``pool:NAME``) resolve through ``models`` (a pool name -> its
    chat model), or, with None, through nothing: ``orca.pools``' manager calls it while it
    runs pools in this process."""
    global _pools
    _pools = models


def provider_names() -> list[str]:
    """Every provider name a profile may use."""
    return sorted({*PRESETS, "anthropic", "llamacpp", POOL_PROVIDER})


def check_provider(provider: str) -> None:
    """Raises ``UnknownProviderError`` (naming the closest) for an unknown name."""
    if provider not in provider_names():
        raise UnknownProviderError(provider, provider_names())


def key_variable(provider: str, params: Mapping[str, Any] | None = None) -> str | None:
    """The environment variable a model of ``provider`` reads its API key from: its
    ``api_key_env`` param, else the provider's own (``OPENAI_API_KEY``...); None for a
    provider that needs no key (a local server)."""
    named = (params or {}).get("api_key_env")
    if named is not None:
        return str(named)
    if provider == "anthropic":
        from orca.llm.providers.anthropic import KEY_ENV

        return KEY_ENV
    preset = PRESETS.get(provider)
    return preset.key_env if preset is not None else None


def make_model(
    provider: str,
    model: str,
    params: Mapping[str, Any] | None = None,
    *,
    keys: KeyLookup | None = None,
) -> ChatModel:
    """A ``ChatModel`` for ``provider``/``model``.

    ``params`` mixes client options (``base_url``, ``api_key``, ``api_key_env`` (the
    environment variable holding the key), ``max_retries``, ``timeout``) with request
    defaults (``temperature``, ``max_tokens``, ...). For the in-process ``llamacpp``
    provider, ``model`` is the path of a GGUF file and params may add llama.cpp's own
    (``n_ctx``, ``n_threads``, ...).

    The key is, in order: ``params["api_key"]``; what ``keys`` gives for the variable
    the model reads (``key_variable``: a tenant's stored secret of that name); the
    environment variable itself.

    Raises:
        UnknownProviderError: no such provider (the closest is named).
        MissingAPIKeyError: the provider needs a key that is neither stored nor in the
            environment.
        SecretKeyError, CorruptDatabaseError: ``keys`` holds the key but cannot open it.
    """
    check_provider(provider)
    if provider == POOL_PROVIDER:
        if _pools is None:
            from orca.errors import ConfigError

            raise ConfigError(
                f"model pool:{model} names a local engine pool, and no pool runs in this process",
                key="provider",
                fix="run it where the pools run (orca serve with [pools.NAME], and a task's "
                f"model_ref pool:{model}), or start the pool with orca.pools.PoolManager",
            )
        return _pools(model)
    params = dict(params or {})
    client = {k: params.pop(k) for k in list(params) if k in CLIENT_OPTIONS}
    variable = key_variable(provider, params)
    key_env = params.pop("api_key_env", None)
    if "api_key" not in client and keys is not None and variable is not None:
        stored = keys(variable)
        if stored:
            client["api_key"] = stored
    if key_env is not None and "api_key" not in client:
        # a config names the variable holding the key, never the key
        import os

        from orca.errors import MissingAPIKeyError

        if not os.environ.get(str(key_env)):
            raise MissingAPIKeyError(provider, str(key_env))
        client["api_key"] = os.environ[str(key_env)]
    if provider == "anthropic":
        from orca.llm.providers.anthropic import AnthropicModel

        return AnthropicModel(model, params=params, **client)
    if provider == "llamacpp":
        from orca.llm.providers.llamacpp import LlamaCppModel

        return LlamaCppModel(model, params=params, **client)
    from orca.llm.providers.openai import OpenAIModel

    return OpenAIModel(model, provider=provider, params=params, **client)
