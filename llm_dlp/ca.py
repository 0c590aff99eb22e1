"""The proxy's certificate authority, generated with ``cryptography`` on first run.

mitmproxy reads ``{confdir}/mitmproxy-ca.pem`` (private key followed by certificate) and, when
that file exists, does not generate its own. Clients trust ``mitmproxy-ca-cert.pem``.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_KEY_AND_CERT = "mitmproxy-ca.pem"
CA_CERT = "mitmproxy-ca-cert.pem"
# Python's SSL_CERT_FILE replaces the whole trust store, so Python clients get our CA *plus*
# the public roots: tunnelled (not intercepted) hosts still present their real certificates.
CA_BUNDLE = "llm-dlp-ca-bundle.pem"


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    confdir: Path
    created: bool

    @property
    def cert_path(self) -> Path:
        return self.confdir / CA_CERT

    @property
    def bundle_path(self) -> Path:
        return self.confdir / CA_BUNDLE

    @property
    def key_path(self) -> Path:
        return self.confdir / CA_KEY_AND_CERT


def ensure_ca(confdir: Path, common_name: str = "llm-dlp proxy CA") -> CertificateAuthority:
    confdir = Path(confdir)
    confdir.mkdir(parents=True, exist_ok=True)
    key_path = confdir / CA_KEY_AND_CERT
    if key_path.exists():
        if key_path.stat().st_mode & 0o077:
            os.chmod(key_path, 0o600)  # a key readable by others is as good as leaked; tighten it
        if not (confdir / CA_CERT).exists() or not (confdir / CA_BUNDLE).exists():
            _write_public_cert(confdir, x509.load_pem_x509_certificate(key_path.read_bytes()))
        return CertificateAuthority(confdir, created=False)

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "llm-dlp"),
    ])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_pem + cert.public_bytes(serialization.Encoding.PEM))
    _write_public_cert(confdir, cert)
    return CertificateAuthority(confdir, created=True)


def _write_public_cert(confdir: Path, cert: x509.Certificate) -> None:
    pem = cert.public_bytes(serialization.Encoding.PEM)
    path = confdir / CA_CERT
    path.write_bytes(pem)
    os.chmod(path, 0o644)
    import certifi  # a mitmproxy dependency

    (confdir / CA_BUNDLE).write_bytes(Path(certifi.where()).read_bytes().rstrip() + b"\n" + pem)


def trust_instructions(ca: CertificateAuthority, proxy_url: str) -> str:
    cert = ca.cert_path.resolve()
    return "\n".join([
        f"llm-dlp CA certificate: {cert}" + ("  (new)" if ca.created else ""),
        "Point clients at the proxy and trust the CA:",
        f"  export HTTPS_PROXY={proxy_url} HTTP_PROXY={proxy_url}",
        f"  Claude Code / Node tools:  export NODE_EXTRA_CA_CERTS={cert}",
        f"  Python SDKs (httpx/requests): export SSL_CERT_FILE={ca.bundle_path.resolve()}"
        f" REQUESTS_CA_BUNDLE={ca.bundle_path.resolve()}",
        f"  Codex CLI:                 export CODEX_CA_CERTIFICATE={cert}",
        f"  curl:                      curl -x {proxy_url} --cacert {cert} https://api.anthropic.com/...",
    ])
