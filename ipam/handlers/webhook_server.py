"""The webhook's HTTPS server: Kopf's, with a full Kubernetes Status in every refusal.

Kopf answers a refused admission with a message and a code only. The API server passes
whatever Status a webhook returns on to the client, and kubectl prints ``details.causes``
one per line, so the server adds the Status the handler built (reason ``Invalid``, one
cause per field). The handler hands it over through a context variable holding one dict per
request: Kopf awaits async handlers in the request's own task.

The certificate is read from files (cert-manager's Secret, mounted; Kopf reads them again
when they change), or, for development, generated here and self-signed for the names
given, its PEM written where asked so that it can be the ``caBundle`` of a
ValidatingWebhookConfiguration. Generating one needs the ``cryptography`` package, which
the image does not ship: clusters use files.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import ipaddress
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import kopf

_STATUS: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("admission_status")
SELF_SIGNED_DAYS = 365


def refuse(status: dict[str, Any], message: str) -> kopf.AdmissionError:
    """The error a handler raises to refuse, with the whole ``status`` for the response."""
    holder = _STATUS.get(None)
    if holder is not None:
        holder.update(status)
    return kopf.AdmissionError(message, code=int(status.get("code") or 400))


class Server(kopf.WebhookServer):
    """Kopf's server, telling when it listens and answering refusals with a full Status."""

    def __init__(self, *, listening: asyncio.Event, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.listening = listening

    async def __call__(self, fn: Any) -> AsyncIterator[Any]:
        async def answer(request: Any, **kwargs: Any) -> Any:
            holder: dict[str, Any] = {}
            token = _STATUS.set(holder)
            try:
                response = await fn(request, **kwargs)
            finally:
                _STATUS.reset(token)
            payload = response.get("response") or {}
            if holder and not payload.get("allowed", True):
                payload["status"] = holder
            return response

        try:
            async for config in super().__call__(answer):
                self.listening.set()
                yield config
        finally:
            self.listening.clear()


class CertificateError(Exception):
    """The serving certificate cannot be had (a message for the user)."""


def self_signed(directory: Path, hostnames: Sequence[str]) -> tuple[Path, Path]:
    """A self-signed serving certificate for ``hostnames`` (names or IPs), and its key."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as err:
        raise CertificateError(
            "a self-signed webhook certificate needs the Python package cryptography "
            "(pip install cryptography); or give --webhook-cert-file and --webhook-key-file"
        ) from err
    if not hostnames:
        raise CertificateError("a self-signed webhook certificate needs at least one name")
    sans: list[x509.GeneralName] = []
    for name in hostnames:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def scratch_directory() -> Path:
    """A private directory for a generated key (removed when the process ends)."""
    holder = tempfile.TemporaryDirectory(prefix="capi-ipam-webhook-")
    _KEEP.append(holder)
    return Path(holder.name)


_KEEP: list[tempfile.TemporaryDirectory[str]] = []
