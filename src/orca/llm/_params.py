"""What a profile's parameters may be: the keys each provider takes and the values each
key allows, checked when a profile is written (``orca profile create|update``), so that
``temperature=hot`` fails there and not at the first call."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]


def _number(low: float | None = None, high: float | None = None) -> Check:
    def check(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return False
        return (low is None or v >= low) and (high is None or v <= high)

    return check


def _integer(low: int) -> Check:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _text(v: Any) -> bool:
    return isinstance(v, str) and bool(v)


def _url(v: Any) -> bool:
    return isinstance(v, str) and v.startswith(("http://", "https://"))


def _stops(v: Any) -> bool:
    return _text(v) or (isinstance(v, list) and all(_text(s) for s in v))


# key -> (the check, what the value must be)
_REQUEST: dict[str, tuple[Check, str]] = {
    "temperature": (_number(0, 2), "a number from 0 to 2"),
    "top_p": (_number(0, 1), "a number from 0 to 1"),
    "top_k": (_integer(1), "a whole number of 1 or more"),
    "min_p": (_number(0, 1), "a number from 0 to 1"),
    "max_tokens": (_integer(1), "a whole number of 1 or more"),
    "seed": (_integer(0), "a whole number of 0 or more"),
    "stop": (_stops, "a text or a JSON list of texts"),
    "presence_penalty": (_number(-2, 2), "a number from -2 to 2"),
    "frequency_penalty": (_number(-2, 2), "a number from -2 to 2"),
    "repeat_penalty": (_number(0), "a number of 0 or more"),
}
_REMOTE: dict[str, tuple[Check, str]] = {
    "base_url": (_url, "an http:// or https:// URL"),
    "api_key_env": (_text, "the name of an environment variable"),
    "api_key": (_text, "a key (better: api_key_env, the variable holding it)"),
    "max_retries": (_integer(0), "a whole number of 0 or more"),
    "timeout": (_number(0.001), "a number of seconds above 0"),
    "thinking_tokens": (_integer(1), "a whole number of 1 or more"),
    "reasoning_effort": (_text, "low, medium or high"),
    "user": (_text, "a text"),
    "extra_body": (lambda v: isinstance(v, dict), "a JSON object of the provider's own fields"),
}
_LOCAL: dict[str, tuple[Check, str]] = {
    "n_ctx": (_integer(1), "a whole number of 1 or more"),
    "n_threads": (_integer(1), "a whole number of 1 or more"),
    "n_batch": (_integer(1), "a whole number of 1 or more"),
    "n_gpu_layers": (_integer(-1), "a whole number of -1 (all) or more"),
    "chat_format": (_text, "a llama.cpp chat format name"),
}


def known_params(provider: str) -> dict[str, tuple[Check, str]]:
    """The parameters ``provider``'s profiles may set, with their checks."""
    return {**_REQUEST, **(_LOCAL if provider == "llamacpp" else _REMOTE)}


def param_problem(provider: str, key: str, value: Any, flag: str = "") -> tuple[str, str] | None:
    """None if ``key=value`` is a valid parameter for ``provider``, else (what is wrong,
    how to fix it: ``flag KEY=EXAMPLE``)."""
    from orca.errors import closest

    known = known_params(provider)
    if key not in known:
        keys = sorted(known)
        fix = "use one of " + ", ".join(keys)
        if provider != "llamacpp":
            fix += '; a field of the provider\'s own: extra_body={"KEY": VALUE}'
        return f"{key!r} is not a parameter of {provider}{closest(key, keys)}", fix
    check, wanted = known[key]
    if not check(value):
        example = f"{key}={_EXAMPLES.get(key, '...')}"
        return f"{key}={value!r} must be {wanted}", f"write {flag} {example}".replace("  ", " ")
    return None


_EXAMPLES = {
    "temperature": "0.2",
    "top_p": "0.9",
    "top_k": "40",
    "min_p": "0.05",
    "max_tokens": "1024",
    "seed": "7",
    "stop": '["###"]',
    "base_url": "http://localhost:8080/v1",
    "api_key_env": "OPENAI_API_KEY",
    "timeout": "60",
    "max_retries": "2",
    "n_ctx": "4096",
    "n_gpu_layers": "-1",
}
