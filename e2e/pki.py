"""Certificates and keys for one control plane: a CA, serving and client certs, an SA key.

Besides the API server's own pair, the CA signs a webhook serving pair (SAN 127.0.0.1)
in a directory of its own, named as controller-runtime expects (``tls.crt``/``tls.key``),
so a webhook server beside the control plane is trusted through the harness CA alone.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class Pki:
    """File paths of the material a control plane is started with."""

    directory: Path

    ca_cert = property(lambda self: self.directory / "ca.crt")
    ca_key = property(lambda self: self.directory / "ca.key")
    serving_cert = property(lambda self: self.directory / "apiserver.crt")
    serving_key = property(lambda self: self.directory / "apiserver.key")
    admin_cert = property(lambda self: self.directory / "admin.crt")
    admin_key = property(lambda self: self.directory / "admin.key")
    kcm_cert = property(lambda self: self.directory / "controller-manager.crt")
    kcm_key = property(lambda self: self.directory / "controller-manager.key")
    sa_key = property(lambda self: self.directory / "sa.key")
    sa_pub = property(lambda self: self.directory / "sa.pub")
    webhook_dir = property(lambda self: self.directory / "webhook")
    webhook_cert = property(lambda self: self.directory / "webhook" / "tls.crt")
    webhook_key = property(lambda self: self.directory / "webhook" / "tls.key")


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _sign(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    is_ca: bool = False,
    usage: list[x509.ObjectIdentifier] | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def create(directory: Path, *, service_ip: str = "10.0.0.1") -> Pki:
    """Write a fresh CA and everything signed by it, unless the directory already has it.

    ``service_ip`` is the ClusterIP of the ``kubernetes`` Service (the first address of the
    API server's service range), which in-cluster clients connect to.
    """
    pki = Pki(directory)
    if not pki.sa_pub.exists():
        _create_all(pki, service_ip)
    if not pki.webhook_key.exists():
        _create_webhook_pair(pki)
    return pki


def _create_webhook_pair(pki: Pki) -> None:
    """A serving pair for webhook servers on loopback, signed by the existing CA."""
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{pki.ca_key}: expected an EC key")
    ca_name = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()).subject
    pki.webhook_dir.mkdir(parents=True, exist_ok=True)
    key = _key()
    sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.DNSName("localhost"),
    ]
    cert = _sign(
        _name("capi-ipam-harness-webhook"),
        key,
        ca_name,
        ca_key,
        usage=[ExtendedKeyUsageOID.SERVER_AUTH],
        sans=sans,
    )
    # The key last: a present tls.key means the pair is complete (see create()).
    _write_cert(pki.webhook_cert, cert)
    _write_key(pki.webhook_key, key)


def _create_all(pki: Pki, service_ip: str) -> None:
    directory = pki.directory
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_name = _key(), _name("capi-ipam-harness-ca")
    _write_key(pki.ca_key, ca_key)
    _write_cert(pki.ca_cert, _sign(ca_name, ca_key, ca_name, ca_key, is_ca=True))

    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default.svc"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address(service_ip)),
    ]
    _kcm = _name("system:kube-controller-manager", "system:masters")
    server = ExtendedKeyUsageOID.SERVER_AUTH
    client = ExtendedKeyUsageOID.CLIENT_AUTH
    for cert_path, key_path, subject, usage, names in (
        (pki.serving_cert, pki.serving_key, _name("kube-apiserver"), [server], sans),
        (pki.admin_cert, pki.admin_key, _name("admin", "system:masters"), [client], None),
        # The controller-manager runs every controller under its own identity
        # (--use-service-account-credentials=false), so it needs the masters group.
        (pki.kcm_cert, pki.kcm_key, _kcm, [client], None),
    ):
        key = _key()
        _write_key(key_path, key)
        _write_cert(cert_path, _sign(subject, key, ca_name, ca_key, usage=usage, sans=names))

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki.sa_key, sa_key)
    pki.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def client_certificate(
    pki: Pki, name: str, common_name: str, organization: str
) -> tuple[Path, Path]:
    """A client certificate and key signed by the CA, as ``<name>.crt`` and ``<name>.key``."""
    cert_path, key_path = pki.directory / f"{name}.crt", pki.directory / f"{name}.key"
    if cert_path.exists():
        return cert_path, key_path
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = _key()
    _write_key(key_path, key)
    subject = _name(common_name, organization)
    usage = [ExtendedKeyUsageOID.CLIENT_AUTH]
    _write_cert(cert_path, _sign(subject, key, ca_cert.subject, ca_key, usage=usage))
    return cert_path, key_path


def serving_certificate(pki: Pki, name: str, hosts: list[str]) -> tuple[Path, Path]:
    """A serving certificate for ``hosts`` (names or IPs) signed by the CA, and its key."""
    cert_path, key_path = pki.directory / f"{name}.crt", pki.directory / f"{name}.key"
    if cert_path.exists():
        return cert_path, key_path
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    key = _key()
    _write_key(key_path, key)
    usage = [ExtendedKeyUsageOID.SERVER_AUTH]
    cert = _sign(_name(hosts[0]), key, ca_cert.subject, ca_key, usage=usage, sans=sans)
    _write_cert(cert_path, cert)
    return cert_path, key_path
