"""Certificates and kubeconfigs for the devstack's Kubernetes control plane.

As in a real cluster: a CA signs the API server's serving certificate and one client
certificate per component (authenticated by the CA, authorized by RBAC), and a separate key
pair signs service-account tokens.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=3650)

# component -> (common name, organisation): the identities RBAC's bootstrap policy knows.
CLIENTS = {
    "admin": ("fileserver-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
}


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _sign(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    usage: list[x509.ObjectIdentifier] | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_pki(pki: Path) -> None:
    """Create the CA, serving, client and service-account keys once; later calls keep them."""
    if (pki / "ca.crt").exists():
        return
    pki.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("fileserver-devstack-ca")
    _write_key(pki / "ca.key", ca_key)
    _write_cert(pki / "ca.crt", _sign(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True))

    serving_key = _key()
    sans: list[x509.GeneralName] = [
        x509.DNSName(n)
        for n in ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
    ]
    sans += [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    _write_key(pki / "apiserver.key", serving_key)
    _write_cert(
        pki / "apiserver.crt",
        _sign(
            _name("kube-apiserver"),
            serving_key.public_key(),
            ca_name,
            ca_key,
            usage=[ExtendedKeyUsageOID.SERVER_AUTH],
            sans=sans,
        ),
    )
    for component, (cn, org) in CLIENTS.items():
        key = _key()
        _write_key(pki / f"{component}.key", key)
        _write_cert(
            pki / f"{component}.crt",
            _sign(
                _name(cn, org),
                key.public_key(),
                ca_name,
                ca_key,
                usage=[ExtendedKeyUsageOID.CLIENT_AUTH],
            ),
        )
    sa_key = _key()
    _write_key(pki / "sa.key", sa_key)
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def write_kubeconfig(path: Path, pki: Path, component: str, server: str) -> None:
    """A kubeconfig for ``component``'s client certificate against ``server``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "devstack",
                "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": component,
                "user": {
                    "client-certificate": str(pki / f"{component}.crt"),
                    "client-key": str(pki / f"{component}.key"),
                },
            }
        ],
        "contexts": [{"name": "devstack", "context": {"cluster": "devstack", "user": component}}],
        "current-context": "devstack",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
