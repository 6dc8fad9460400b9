"""Provider names -> model objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orca.errors import UnknownProviderError
from orca.llm._base import ChatModel
from orca.llm.providers.openai import PRESETS

# options that configure the client rather than each request
CLIENT_OPTIONS = frozenset({"base_url", "api_key", "max_retries", "timeout"})


def provider_names() -> list[str]:
    """Every provider name a profile may use."""
    return sorted({*PRESETS, "anthropic", "llamacpp"})


def check_provider(provider: str) -> None:
    """Raises ``UnknownProviderError`` (naming the closest) for an unknown name."""
    if provider not in provider_names():
        raise UnknownProviderError(provider, provider_names())


def make_model(provider: str, model: str, params: Mapping[str, Any] | None = None) -> ChatModel:
    """A ``ChatModel`` for ``provider``/``model``.

    ``params`` mixes client options (``base_url``, ``api_key``, ``api_key_env`` (the
    environment variable holding the key), ``max_retries``, ``timeout``) with request
    defaults (``temperature``, ``max_tokens``, ...). For the in-process ``llamacpp``
    provider, ``model`` is the path of a GGUF file and params may add llama.cpp's own
    (``n_ctx``, ``n_threads``, ...).

    Raises:
        UnknownProviderError: no such provider (the closest is named).
        MissingAPIKeyError: the provider needs a key that is not in the environment.
    """
    check_provider(provider)
    params = dict(params or {})
    client = {k: params.pop(k) for k in list(params) if k in CLIENT_OPTIONS}
    key_env = params.pop("api_key_env", None)
    if key_env is not None:  # a config names the variable holding the key, never the key
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
