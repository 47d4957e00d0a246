"""Where a webhook may be sent: checked when an endpoint is saved and again, after name
resolution, before every attempt (the address a name resolves to can change).

Endpoints are https URLs on public addresses: never loopback, private, link-local
(cloud metadata), shared or reserved ones, so a user cannot make the platform
call its own network (SSRF). An IPv6 address that carries an IPv4 one (mapped,
compatible, translated, 6to4, NAT64) is judged by the IPv4 address its packets
end up at, which Python's ``is_global`` does not look at; local-use NAT64 and
Teredo addresses are refused whatever they carry. With DEBUG or ``WEBHOOKS_ALLOW_HTTP_LOCALHOST``,
``http://localhost`` and ``http://127.0.0.1`` receivers are allowed too
(development and tests); nothing else private ever is.

An attempt connects to the very address that was checked (``PinnedAdapter``),
so a name that resolves to another address a moment later (DNS rebinding)
cannot redirect it; TLS still verifies the certificate for the URL's name.
Redirects are not followed, and proxies from the environment are not used.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from core.errors import DomainError
from webhooks.conf import webhook_settings

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(DomainError):
    code = "webhook_url_refused"


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    # A localhost receiver, allowed only in development and tests.
    local: bool

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def url_target(url: str) -> Target:
    """The scheme, host and port of an endpoint URL, or ``UrlRefused`` saying what is wrong."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UrlRefused("This is not a valid URL.") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or scheme not in ("http", "https"):
        raise UrlRefused("Enter a full URL, such as https://example.com/webhooks.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("The URL cannot contain a user name or password.")
    local = host in LOCAL_HOSTS and webhook_settings().allow_http_localhost
    if scheme != "https" and not local:
        raise UrlRefused("The URL must use https.")
    return Target(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), local=local)


# IPv6 ranges whose last 32 bits are an IPv4 address, where the packets go: IPv4-compatible
# (RFC 4291, deprecated; tunnelled over IPv4 by hosts that still route it), IPv4-translated
# (RFC 2765, SIIT) and the well-known NAT64 prefix (RFC 6052). IPv4-mapped (::ffff:0:0/96)
# and 6to4 (2002::/16, the IPv4 address in bits 16-48) are read by ``ipaddress`` itself.
IPV4_IN_LAST_32_BITS = (
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("64:ff9b::/96"),
)
# IPv6's own :: and ::1, inside ::/96 but not IPv4-compatible addresses.
UNSPECIFIED_AND_LOOPBACK = ipaddress.IPv6Network("::/127")
# Refused whatever they carry. A local-use NAT64 prefix (RFC 8215) is some network's own
# translator, which may place the IPv4 address at any of six offsets (RFC 6052) and be
# ours. A Teredo address (RFC 4380) reaches its host through a relay and that host's NAT,
# both written in the address; no webhook receiver needs one.
REFUSED_TRANSITION_RANGES = {
    ipaddress.IPv6Network("64:ff9b:1::/48"): "a local-use NAT64 address",
    ipaddress.IPv6Network("2001::/32"): "a Teredo address",
}


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition address carries (where its packets end up), if any."""
    if address in UNSPECIFIED_AND_LOOPBACK:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in IPV4_IN_LAST_32_BITS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_allowed(address: IPAddress, *, local: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in REFUSED_TRANSITION_RANGES):
            return False
        if (carried := embedded_ipv4(address)) is not None:
            # An IPv4-mapped address is the IPv4 socket address itself, so a local
            # receiver may use it; any other form only reaches loopback by accident.
            return address_allowed(carried, local=local and address.ipv4_mapped is not None)
    if local and address.is_loopback:
        return True
    return address.is_global and not address.is_multicast


def _refusal(host: str, address: IPAddress) -> str:
    detail = ""
    if isinstance(address, ipaddress.IPv6Address):
        kinds = [kind for network, kind in REFUSED_TRANSITION_RANGES.items() if address in network]
        if kinds:
            detail = f" ({kinds[0]})"
        elif (carried := embedded_ipv4(address)) is not None:
            detail = f" (which carries {carried})"
    return (
        f"{host} resolves to {address}{detail}, a private or reserved address: "
        "webhooks are only sent to public addresses."
    )


def resolve(target: Target) -> list[str]:
    """The addresses ``target`` resolves to, all allowed; ``UrlRefused`` if any is not
    (a name with one private address among public ones is refused too)."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UrlRefused(f"The host name {target.host} could not be resolved.") from None
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        if not address_allowed(address, local=target.local):
            raise UrlRefused(_refusal(target.host, address))
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise UrlRefused(f"The host name {target.host} could not be resolved.")
    return addresses


def url_check(url: str) -> Target:
    """Refuse a URL webhooks may not be sent to (``UrlRefused``, 400)."""
    target = url_target(url)
    resolve(target)
    return target


class PinnedAdapter(HTTPAdapter):
    """Connects to ``address`` whatever the URL's host name resolves to now;
    TLS is verified (and SNI sent) for the URL's host name."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = host_params["host"]
            pool_kwargs["assert_hostname"] = host_params["host"]
        host_params["host"] = self.address
        return host_params, pool_kwargs


@dataclass(frozen=True, slots=True)
class Response:
    status_code: int
    excerpt: str


def post(url: str, *, body: bytes, headers: dict[str, str], response_bytes: int = 500) -> Response:
    """POST ``body`` to ``url`` at a checked address; the status and the start of the answer.

    Raises ``UrlRefused`` for an address not allowed and ``requests.RequestException``
    for network failures (timeouts: WEBHOOKS_CONNECT_TIMEOUT, WEBHOOKS_READ_TIMEOUT)."""
    s = webhook_settings()
    target = url_target(url)
    address = resolve(target)[0]
    with requests.Session() as session:
        session.trust_env = False  # no proxies or .netrc from the environment
        session.mount(f"{target.scheme}://", PinnedAdapter(address))
        response = session.post(
            url,
            data=body,
            headers={**headers, "Host": target.host_header},
            timeout=(s.connect_timeout, s.read_timeout),
            allow_redirects=False,
            stream=True,
        )
        with response:
            start = response.raw.read(response_bytes, decode_content=True) or b""
    return Response(status_code=response.status_code, excerpt=start.decode("utf-8", "replace"))
