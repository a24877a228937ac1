"""HTTPS for werk's HTTP server: the plant's certificate files, or a self-signed one made at first start.

A self-signed certificate (ECDSA P-256, valid ten years, for localhost, 127.0.0.1, ::1, this host's name and the
bind address) is kept in ``server.tls.dir`` (default ``<historian path>.tls``) and reused at every start; its
SHA-256 fingerprint is printed so a person can compare it with what the browser shows before trusting it. The
key file is written readable by its owner only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from werk.errors import WerkError


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    fingerprint: str  # SHA-256 of the certificate (DER), colon-separated hex
    made: bool  # made now (first start)


def fingerprint(cert_pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def tls_files(cert: str | None, key: str | None, folder: str | Path, host: str = "127.0.0.1") -> TlsFiles:
    """The certificate and key to serve with: the given files (checked to exist), else the self-signed pair in
    ``folder``, made when missing."""
    if cert or key:
        if not (cert and key):
            raise WerkError("server.tls: give both cert and key, or neither for a self-signed certificate")
        for what, path in (("cert", cert), ("key", key)):
            if not Path(path).is_file():
                raise WerkError(f"server.tls.{what}: {path} is not a file")
        return TlsFiles(Path(cert), Path(key), fingerprint(Path(cert).read_bytes()), made=False)
    folder = Path(folder)
    cert_path, key_path = folder / "werk-cert.pem", folder / "werk-key.pem"
    if cert_path.is_file() and key_path.is_file():
        return TlsFiles(cert_path, key_path, fingerprint(cert_path.read_bytes()), made=False)
    folder.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname())]
    for ip in {"127.0.0.1", "::1", host}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            names.append(x509.DNSName(ip))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"werk on {socket.gethostname()}")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_bytes = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_bytes)
    cert_path.write_bytes(pem)
    return TlsFiles(cert_path, key_path, fingerprint(pem), made=True)
