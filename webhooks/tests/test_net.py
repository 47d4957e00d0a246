"""The pinned connection: TLS to the checked address, verified for the URL's host name."""

import datetime as dt
import ipaddress
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webhooks.net import PinnedAdapter, address_allowed
from webhooks.tests.addresses import TRANSITION_ADDRESSES_TO_PRIVATE


def self_signed(tmp_path, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path):
    cert_path, key_path = self_signed(tmp_path, "hooks.example.test")
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.headers["Host"])
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], cert_path, seen
    finally:
        server.shutdown()
        server.server_close()


def pinned_post(url: str, cert_path, host: str) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        session.mount("https://", PinnedAdapter("127.0.0.1"))
        return session.post(url, data=b"{}", headers={"Host": host}, verify=str(cert_path), timeout=5)


def test_pinned_tls_connects_to_the_address_and_verifies_the_host_name(tls_server):
    port, cert_path, seen = tls_server

    # The name does not resolve at all: the connection goes to the pinned address.
    response = pinned_post(f"https://hooks.example.test:{port}/in", cert_path, f"hooks.example.test:{port}")

    assert response.status_code == 204
    assert seen == [f"hooks.example.test:{port}"]


def test_pinned_tls_refuses_a_certificate_for_another_name(tls_server):
    port, cert_path, seen = tls_server

    with pytest.raises(requests.exceptions.SSLError):
        pinned_post(f"https://other.example.test:{port}/in", cert_path, f"other.example.test:{port}")
    assert seen == []


@pytest.mark.parametrize(
    ("address", "local", "allowed"),
    [
        ("93.184.215.14", False, True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", False, True),
        ("127.0.0.1", False, False),
        ("127.0.0.1", True, True),
        ("::1", True, True),
        ("10.0.0.1", True, False),
        ("100.64.0.1", False, False),
        ("172.16.0.1", False, False),
        ("169.254.169.254", False, False),
        ("224.0.0.1", False, False),
        ("fd00::1", False, False),
        ("fe80::1", False, False),
        ("::ffff:10.0.0.1", False, False),
    ],
)
def test_address_allowed(address, local, allowed):
    assert address_allowed(ipaddress.ip_address(address), local=local) is allowed


@pytest.mark.parametrize("address", TRANSITION_ADDRESSES_TO_PRIVATE)
def test_transition_addresses_carrying_a_private_address_are_refused(address):
    assert address_allowed(ipaddress.ip_address(address), local=False) is False


@pytest.mark.parametrize(
    "address", [a for a in TRANSITION_ADDRESSES_TO_PRIVATE if a.id != "ipv4-mapped-loopback"]
)
def test_a_local_receiver_is_loopback_itself_never_a_transition_address_carrying_it(address):
    # ::ffff:127.0.0.1 is 127.0.0.1 written as IPv6 (the same socket address): allowed locally.
    assert address_allowed(ipaddress.ip_address(address), local=True) is False


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        pytest.param("::ffff:93.184.215.14", True, id="ipv4-mapped-public"),
        pytest.param("2002:5db8:d70e::1", True, id="6to4-public"),
        pytest.param("64:ff9b::5db8:d70e", True, id="nat64-public"),
        # Refused whatever they carry (docs/webhooks.md): a local-use NAT64 prefix is some
        # network's own translator, and Teredo reaches its host through a relay and a NAT.
        pytest.param("64:ff9b:1::5db8:d70e", False, id="local-nat64-public"),
        pytest.param("2001:0:4136:e378:8000:63bf:a247:28f1", False, id="teredo-public-client"),
    ],
)
def test_transition_addresses_are_judged_by_the_address_they_carry(address, allowed):
    assert address_allowed(ipaddress.ip_address(address), local=False) is allowed
