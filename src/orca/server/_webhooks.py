"""Webhooks: a run's record POSTed, when it stops, to the URL its starter named.

The URL is checked when the run is started, as ``http_fetch`` checks its URLs: http or
https, and every address its host resolves to public (loopback, private, link-local and
metadata ranges are refused unless ``[server] webhook_networks`` allows the network).
The call then goes to the address that was checked, so a second DNS answer cannot swap
it for another. Delivery is tried three times (1 s, then 2 s apart); a failure is
logged, and the run is not affected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

from orca.errors import InvalidInputError

log = logging.getLogger("orca.server")

ATTEMPTS = 3
TIMEOUT_S = 10.0


def check_webhook(url: str, allow_networks: Sequence[str]) -> tuple[str, int, str, bool]:
    """The webhook's (host, port, checked address, tls).

    Raises:
        InvalidInputError: not an http(s) URL, a host that does not resolve, or an address
            outside the public internet and the allowed networks.
    """
    from orca.tools._http import addresses_of, check_public

    fix = "give an http(s) URL on a public host (or allow its network: [server] webhook_networks)"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"webhook {url!r} is not an http(s) URL. Fix: {fix}")
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
        addresses = addresses_of(parts.hostname, port)
        for address in addresses:  # every answer, or a rebinding round robin slips through
            check_public(address, allow_networks)
    except (ConnectionError, PermissionError, ValueError) as exc:
        raise InvalidInputError(f"webhook {url!r}: {exc}. Fix: {fix}") from None
    return parts.hostname, port, addresses[0], tls


async def deliver(url: str, target: tuple[str, int, str, bool], record: dict[str, Any]) -> bool:
    """POST ``record`` as JSON to the checked ``target``; True once it answered 2xx."""
    body = orjson.dumps(record, default=repr)
    for attempt in range(ATTEMPTS):
        try:
            status = await asyncio.to_thread(_post, url, target, body)
            if 200 <= status < 300:
                return True
            log.warning("webhook %s answered %s (attempt %d)", url, status, attempt + 1)
        except OSError as exc:
            log.warning("webhook %s failed: %s (attempt %d)", url, exc, attempt + 1)
        if attempt + 1 < ATTEMPTS:
            await asyncio.sleep(2**attempt)
    return False


def _post(url: str, target: tuple[str, int, str, bool], body: bytes) -> int:
    from orca.tools._http import Pinned

    host, port, address, tls = target
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = Pinned(host, port, address, TIMEOUT_S, tls)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": "orca-webhook"},
        )
        response = conn.getresponse()
        response.read(1 << 16)
        return int(response.status)
    finally:
        conn.close()
