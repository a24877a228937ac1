"""The OPC UA connector's own PKI folder: its application instance certificate, the server certificates it trusts,
and those it refused (OPC UA Part 4, 6.1.3 "Determining if a Certificate is trusted"; Part 12's folder layout).

``<pki_dir>/own/``: the connector's RSA-2048 certificate and key, made on first use when the plant file names none
(the three policies werk speaks, Basic256Sha256, Aes128_Sha256_RsaOaep and Aes256_Sha256_RsaPss, all take it).
``<pki_dir>/trusted/``: server certificates (DER or PEM) the connector talks to. ``<pki_dir>/rejected/``: a server
certificate that is in neither is written here, named by its SHA-256, and the connection is refused with a message
naming both folders: a person moves the file to ``trusted/`` after comparing its fingerprint with the server's.
Nothing is trusted on first use unless ``trust_on_first_use`` says so (then the first certificate goes straight to
``trusted/``, and every later different one is refused).
"""

from __future__ import annotations

import socket
from pathlib import Path

from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from werk.errors import ConnectorError


async def own_certificate(pki: Path, app_uri: str) -> tuple[Path, Path]:
    """The connector's certificate (DER) and key (PEM) in ``pki/own``, made when missing or invalid."""
    own = pki / "own"
    own.mkdir(parents=True, exist_ok=True)
    cert, key = own / "cert.der", own / "key.pem"
    await setup_self_signed_certificate(
        key,
        cert,
        app_uri,
        socket.gethostname(),
        [ExtendedKeyUsageOID.CLIENT_AUTH],
        {"organizationName": "werk", "commonName": app_uri.rsplit(":", 1)[-1]},
    )
    key.chmod(0o600)
    return cert, key


def _load(data: bytes) -> x509.Certificate | None:
    try:
        if data.lstrip().startswith(b"-----"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        return None


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


class TrustList:
    """``trusted/`` and ``rejected/`` under a PKI folder (see the module docstring)."""

    def __init__(self, pki: Path, *, trust_on_first_use: bool = False) -> None:
        self.trusted = pki / "trusted"
        self.rejected = pki / "rejected"
        self.trust_on_first_use = trust_on_first_use
        self.trusted.mkdir(parents=True, exist_ok=True)
        self.rejected.mkdir(parents=True, exist_ok=True)

    def trusted_certificates(self) -> dict[str, Path]:
        out = {}
        for path in sorted(self.trusted.iterdir()):
            cert = _load(path.read_bytes()) if path.is_file() else None
            if cert is not None:
                out[fingerprint(cert)] = path
        return out

    def check(self, der: bytes, owner: str, endpoint: str) -> Path:
        """The trusted file of the server certificate ``der``; else it is written to ``rejected/`` and
        :class:`ConnectorError` names the folders (or, trusting on first use with an empty ``trusted/``, it is
        written to ``trusted/``)."""
        cert = _load(der)
        if cert is None:
            raise ConnectorError(f"connector {owner}: {endpoint} offers no readable server certificate")
        fp = fingerprint(cert)
        known = self.trusted_certificates()
        if fp in known:
            return known[fp]
        name = f"{fp[:16]}.der"
        if self.trust_on_first_use and not known:
            path = self.trusted / name
            path.write_bytes(cert.public_bytes(Encoding.DER))
            return path
        (self.rejected / name).write_bytes(cert.public_bytes(Encoding.DER))
        raise ConnectorError(
            f"connector {owner}: the server certificate of {endpoint} (SHA-256 {fp}) is not trusted; it was saved "
            f"as {self.rejected / name}: compare its fingerprint with the server's and move it to {self.trusted} "
            "to trust it"
        )
