"""A self-signed certificate, so that the lab can be served over https on the class network.

Over plain http everything a browser sends crosses the school Wi-Fi readable by anyone on it:
the teacher key typed in the sidebar, the teacher's unlock cookie, one-time teacher links.
Streamlit serves https itself with `server.sslCertFile` and `server.sslKeyFile`;
`python -m mnist_core https-cert` makes the pair for this computer's addresses (LAN IPv4
addresses, 127.0.0.1, ::1, its host name, host name.local, localhost) and prints the command
that starts the lab with it.

Self-signed, because a classroom laptop has no domain name a public CA would certify: Chrome
(Chromebooks, Android) and Firefox warn once ("not private") and let the user go on; after
that the connection is encrypted. iPads and iPhones open the page that way but refuse the
app's WebSocket until the certificate is installed on them as a profile and fully trusted
(WebKit bug 145819; README, "Over https"), which is why it is its own authority (CA:TRUE).
The command prints the certificate's SHA-256 fingerprint, which a careful teacher can compare
with the one the browser shows.

Made with `cryptography` (PyCA), a declared dependency: the `openssl` program is missing on
Windows and differs on macOS (LibreSSL), and Python's own `ssl` cannot make certificates.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shlex
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mnist_core import settings

CERT_NAME = "cert.pem"
KEY_NAME = "key.pem"
#: The longest validity Apple devices accept for a TLS server certificate (iOS 13 and later).
MAX_DAYS = 825
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path
    ips: tuple[str, ...]
    names: tuple[str, ...]
    fingerprint: str          # SHA-256, colon-separated hex, as browsers show it
    not_after: dt.datetime


def default_dir() -> Path:
    """Where `https-cert` puts the pair unless told: `https/` in the lab home."""
    return settings.lab_home() / "https"


def this_computer() -> tuple[list[str], list[str]]:
    """(IP addresses, DNS names) a certificate for this computer should cover: its LAN IPv4
    addresses and loopback, its host name (and .local, for mDNS), localhost."""
    from mnist_core.classroom.joining import lan_ips

    ips = [*lan_ips(), "127.0.0.1", "::1"]
    host = socket.gethostname().strip().rstrip(".")
    names = []
    if _DNS_NAME.match(host):
        names.append(host)
        if "." not in host:
            names.append(f"{host}.local")
    names.append("localhost")
    return _unique(ips), _unique(names)


def make_certificate(folder: Path, ips: list[str], names: list[str], *, days: int = MAX_DAYS,
                     force: bool = False) -> Certificate:
    """Write a new self-signed certificate (`folder/cert.pem`) and its private key
    (`folder/key.pem`, mode 0600: readable by this user only) for `ips` and `names`.

    ValueError for a bad address, name or validity, or when either file exists and not
    `force` (a new pair makes every browser warn again); OSError when the folder cannot be
    written. Both files are replaced atomically, never left half-written."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValueError(f"--days must be a whole number from 1 to {MAX_DAYS} (Apple devices "
                         f"refuse longer certificates), got {days!r}")
    addresses = [_ip(ip) for ip in _unique(ips)]
    names = _unique(names)
    for name in names:
        if not _DNS_NAME.match(name):
            raise ValueError(f"{name!r} is not a host name (letters, digits, '-' and '.')")
    if not addresses and not names:
        raise ValueError("a certificate needs at least one address or name")
    folder = Path(folder).expanduser()
    cert_file, key_file = folder / CERT_NAME, folder / KEY_NAME
    existing = [str(f) for f in (cert_file, key_file) if f.exists()]
    if existing and not force:
        raise ValueError(f"{' and '.join(existing)} already exist{'s' * (len(existing) == 1)}; "
                         "pass --force to replace (browsers that accepted the old certificate "
                         "then warn once more), or --dir to write elsewhere")

    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname()[:40] or "laptop"
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MNIST CNN Lab"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"MNIST CNN Lab on {host}")])
    # A day back: a student's tablet whose clock is a little behind still accepts it.
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=1)
    alt_names = [x509.IPAddress(a) for a in addresses] + [x509.DNSName(n) for n in names]
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            # Its own authority (CA:TRUE, as `openssl req -x509` makes it): an iPad offers
            # "full trust" only to an authority's certificate, and iPads need that trust.
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_atomic(key_file, key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()), 0o600)
    _write_atomic(cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return Certificate(cert_file, key_file, tuple(str(a) for a in addresses), tuple(names),
                       _fingerprint(cert), cert.not_valid_after_utc)


def covered_hosts(cert_file: Path | str) -> set[str] | None:
    """The IP addresses and names a certificate file is valid for (its subjectAltName), or
    None when it cannot be read (missing, not a PEM certificate, `cryptography` absent)."""
    try:
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except Exception:   # whatever is wrong with it, the caller only says less
        return None
    return ({str(a) for a in san.get_values_for_type(x509.IPAddress)}
            | {n.lower() for n in san.get_values_for_type(x509.DNSName)})


def streamlit_command(cert: Certificate, *, address: str = "0.0.0.0",
                      port: int | None = None) -> str:
    """The command that serves the lab over https with `cert`, to the class network."""
    app = settings.PROJECT_ROOT / "streamlit_app.py"
    shown_app = "streamlit_app.py" if Path.cwd().resolve() == app.parent else str(app)
    parts = ["streamlit", "run", shown_app, "--server.address", address,
             "--server.sslCertFile", str(cert.cert_file.resolve()),
             "--server.sslKeyFile", str(cert.key_file.resolve())]
    if port is not None:
        parts += ["--server.port", str(port)]
    return " ".join(shlex.quote(p) for p in parts)


def _ip(text: str):
    try:
        return ipaddress.ip_address(str(text).strip().strip("[]"))
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None


def _unique(items) -> list[str]:
    seen, out = set(), []
    for item in items:
        key = str(item).strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(str(item).strip())
    return out


def _fingerprint(cert) -> str:
    from cryptography.hazmat.primitives import hashes

    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file created with mode 0600 (mkstemp) in the same folder, set
    `mode`, rename into place: a private key is never readable by others, not even briefly."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
