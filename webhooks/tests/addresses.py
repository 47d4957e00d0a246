"""Addresses the SSRF tests try, shared by the address check's, the API's, the page's and delivery's tests."""

import pytest

# IPv6 addresses that carry an IPv4 one, which is where their packets end up; Python 3.11's
# is_global calls most of them global whatever they carry.
TRANSITION_ADDRESSES_TO_PRIVATE = [
    pytest.param("::127.0.0.1", id="ipv4-compatible-loopback"),
    pytest.param("::169.254.169.254", id="ipv4-compatible-metadata"),
    pytest.param("::ffff:127.0.0.1", id="ipv4-mapped-loopback"),
    pytest.param("::ffff:0:7f00:1", id="ipv4-translated-loopback"),
    pytest.param("2002:7f00:1::", id="6to4-loopback"),
    pytest.param("2002:a9fe:a9fe::1", id="6to4-metadata"),
    pytest.param("2002:a00:1:1::1", id="6to4-private"),
    pytest.param("64:ff9b::7f00:1", id="nat64-loopback"),
    pytest.param("64:ff9b::a9fe:a9fe", id="nat64-metadata"),
    pytest.param("64:ff9b::c0a8:101", id="nat64-private"),
    pytest.param("64:ff9b:1::a9fe:a9fe", id="local-nat64-metadata"),
    pytest.param("64:ff9b:1:ffff::7f00:1", id="local-nat64-loopback"),
    # Teredo: server 65.54.227.120, client (the last 32 bits, inverted) 127.0.0.1.
    pytest.param("2001:0:4136:e378:8000:63bf:80ff:fffe", id="teredo-loopback-client"),
]
