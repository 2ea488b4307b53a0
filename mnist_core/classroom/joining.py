"""Which address students type to join the teacher's server, and a QR code of it.

Streamlit listens on every interface unless `server.address` names one. `localhost` means
nothing on a student's iPad, so the address shown is the server's LAN address, with https://
when the server has a certificate (`server.sslCertFile`, read by the app). Everything is
local: the LAN address comes from this machine's own interface configuration (a UDP `connect`
only picks a route; it sends no packet), and the QR code is drawn by segno.
"""
from __future__ import annotations

import io
import ipaddress
import socket
from dataclasses import dataclass

_ALL_INTERFACES = ("", "0.0.0.0", "::", "[::]")


@dataclass(frozen=True)
class JoinAddress:
    url: str
    reachable_by_others: bool     # False when the server listens on this computer only


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def lan_ip() -> str | None:
    """This machine's IPv4 address on its local network, or None if it has none."""
    usable = lan_ips()
    private = [ip for ip in usable if ipaddress.ip_address(ip).is_private]
    return (private or usable or [None])[0]


def lan_ips() -> list[str]:
    """Every IPv4 address of this machine that others could reach (not loopback), without
    repeats: what an https certificate for the class network should name."""
    candidates = []
    try:
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None,
                                                                 socket.AF_INET)]
    except OSError:
        pass
    try:  # the address of the interface that routes to a private network; sends nothing
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.254.254.254", 1))
            candidates.append(s.getsockname()[0])
    except OSError:
        pass
    usable = [ip for ip in candidates if not _is_loopback(ip) and ip != "0.0.0.0"]
    return list(dict.fromkeys(usable))


def join_address(server_address: str | None, port: int, base_path: str = "",
                 lan: str | None = None, https: bool = False) -> JoinAddress:
    """The URL students should open, given Streamlit's `server.address`, port and base path,
    and whether it serves https (a certificate is configured)."""
    scheme = "https" if https else "http"
    host = (server_address or "").strip()
    path = "/" + base_path.strip("/") if base_path.strip("/") else ""
    if host in _ALL_INTERFACES:
        ip = lan if lan is not None else lan_ip()
        if ip is None:
            return JoinAddress(f"{scheme}://localhost:{port}{path}", False)
        return JoinAddress(f"{scheme}://{ip}:{port}{path}", True)
    if _is_loopback(host):
        return JoinAddress(f"{scheme}://{host}:{port}{path}", False)
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return JoinAddress(f"{scheme}://{shown}:{port}{path}", True)


def qr_png(text: str, scale: int = 8) -> bytes:
    """A QR code of `text` as PNG bytes (made locally; no network)."""
    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
