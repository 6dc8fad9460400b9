"""``orca doctor``'s provider probe: one short HTTP request to the provider's model list,
judged by whether the answer is what that provider would give. A port that accepts a
connection and then says nothing, or answers something else, is not a provider."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from typing import Any

PROBE_TIMEOUT_S = 3.0
ANTHROPIC_URL = "https://api.anthropic.com"
OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_VERSION = "2023-06-01"


def models_request(provider: str, base_url: str | None, key: str | None) -> urllib.request.Request:
    """The request listing ``provider``'s models: Anthropic's ``GET /v1/models`` with its
    headers, else the OpenAI-compatible ``GET {base_url}/models``."""
    if provider == "anthropic":
        url = (base_url or ANTHROPIC_URL).rstrip("/") + "/v1/models"
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if key:
            headers["x-api-key"] = key
    else:
        url = (base_url or OPENAI_URL).rstrip("/") + "/models"
        headers = {"Authorization": f"Bearer {key}"} if key else {}
    return urllib.request.Request(url, headers={**headers, "Accept": "application/json"})


def probe(
    provider: str, base_url: str | None, key: str | None, timeout: float = PROBE_TIMEOUT_S
) -> tuple[bool, str]:
    """(True, what answered) when the server lists models as ``provider`` would within
    ``timeout`` seconds, else (False, what is wrong). Never shows the key."""
    request = models_request(provider, base_url, key)
    url = request.full_url
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read(1 << 20)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return False, f"{url} refused the key (HTTP {exc.code})"
        return False, f"{url} answered HTTP {exc.code}, not a list of models"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            return False, f"{url} accepted but gave no answer within {timeout:g}s"
        return False, f"{url} unreachable ({getattr(reason, 'strerror', None) or reason})"
    except TimeoutError:
        return False, f"{url} accepted but gave no answer within {timeout:g}s"
    except (OSError, ValueError, http.client.HTTPException) as exc:  # a reset, not HTTP
        return False, f"{url} did not answer as HTTP ({type(exc).__name__}: {exc})"
    models = _models(body)
    if models is None:
        kind = "Anthropic's API" if provider == "anthropic" else "an OpenAI-compatible server"
        return False, f"{url} answered, but not as {kind} (no JSON list of models)"
    return True, f"{url} lists {len(models)} model{'' if len(models) == 1 else 's'}"


def _models(body: bytes) -> list[Any] | None:
    """The ``data`` list of a models answer (both APIs use that shape), else None."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    data = parsed.get("data") if isinstance(parsed, dict) else None
    return data if isinstance(data, list) else None
