"""``http_fetch``: GET a URL on an allowed domain, never into the machine's own network.

Every hop (the first request and each redirect) is checked the same way: the host must
be on the policy's domain list, and every address it resolves to must be public
(loopback, private, link-local, metadata and other special ranges are refused unless
the policy allows that network). The connection then goes to the address that was
checked, so a second DNS answer cannot swap it for another.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from orca.tools._tool import Tool, ToolEnv

MAX_REDIRECTS = 5
_KEEP_HEADERS = ("content-type", "content-length", "last-modified", "etag")


def addresses_of(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectionError(f"cannot resolve {host}: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_address(address: str, env: ToolEnv) -> None:
    """Raises ``PermissionError`` unless ``address`` is public or in an allowed network."""
    check_public(address, env.policy.allow_networks)


def check_public(address: str, allow_networks: Sequence[str] = ()) -> None:
    """Raises ``PermissionError`` unless ``address`` is public or in one of
    ``allow_networks`` (CIDR): what keeps a URL from reaching into the machine's own
    network (the server's webhooks check the same way)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network in allow_networks:
        if ip in ipaddress.ip_network(network, strict=False):
            return
    if not ip.is_global or ip.is_multicast:
        raise PermissionError(
            f"{address} is a {'loopback' if ip.is_loopback else 'private or reserved'} "
            "address: fetching it is not allowed (the policy can allow a network)"
        )


class Pinned(http.client.HTTPSConnection):
    """An HTTP(S) connection to an address checked beforehand, not re-resolved."""

    def __init__(self, host: str, port: int, address: str, timeout: float, tls: bool) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address
        self._tls = tls

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        if self._tls:
            self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
                self.sock, server_hostname=self.host
            )


def http_fetch(url: str, env: ToolEnv, max_bytes: int | None = None) -> dict[str, Any]:
    """Fetch a web page or API response with GET (redirects followed).

    Args:
        url: an http:// or https:// URL on an allowed domain.
        max_bytes: cut the body after this many bytes (default: the policy's limit).
    """
    policy = env.policy
    limit = min(max_bytes or policy.max_output_bytes, policy.max_output_bytes)
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        host = parts.hostname
        if not policy.allows_host(host):
            raise PermissionError(
                f"{host} is not on the allowed domains ({', '.join(policy.domains) or 'none'})"
            )
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        addresses = addresses_of(host, port)
        for address in addresses:  # every answer, or a rebinding round robin slips through
            check_address(address, env)
        conn = Pinned(host, port, addresses[0], policy.timeout, tls)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", path, headers={"User-Agent": "orca-http-fetch", "Accept": "*/*"})
            response = conn.getresponse()
            location = response.getheader("location")
            if response.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
            body = response.read(limit + 1)
        finally:
            conn.close()
        return {
            "url": url,
            "status": response.status,
            "headers": {k: v for k, v in response.getheaders() if k.lower() in _KEEP_HEADERS},
            "body": body[:limit].decode(errors="replace"),
            "truncated": len(body) > limit,
        }
    raise ConnectionError(f"more than {MAX_REDIRECTS} redirects")


def http_fetch_tool() -> Tool:
    """The ``http_fetch`` tool."""
    return Tool.of(http_fetch, name="http_fetch")
