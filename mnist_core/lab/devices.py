"""Which device a request comes from: the unit that rate limits and quotas count.

A class is one server and thirty devices on the school's network. Limits per browser session
would be worthless there (a reload, a new tab or a script opens a fresh session with a fresh
allowance), so the lab counts per device, and a device is its network address, as the server
sees the connection. That assumes one address per device, which holds on a school LAN or
Wi-Fi where the server is reached directly.

Behind a reverse proxy every connection comes from the proxy, so every student would share one
budget. List the proxy's address in MNIST_LAB_TRUSTED_PROXIES: for connections from it, the
device is the address the proxy appended to X-Forwarded-For (the last one not itself a trusted
proxy); a header from anyone else is ignored, since a client can write whatever it likes
there. Behind NAT (several devices sharing one public address) they share one budget.
"""
from __future__ import annotations

import hashlib
import ipaddress

#: The device of connections from the server's own machine (for which Streamlit reports no
#: address): the teacher's laptop, or a reverse proxy running on it.
LOCAL = "127.0.0.1"
_MAX_HEADER = 2048   # a longer X-Forwarded-For is not believed: no real proxy chain needs it


def client_device(remote: str | None, forwarded_for: str | None = None,
                  trusted_proxies: frozenset[str] = frozenset()) -> str:
    """The device behind a connection from `remote` (None, or anything but an address
    string: the server's own machine), given the request's X-Forwarded-For header and the
    trusted proxies' addresses."""
    address = (_normal(remote) or remote[:64]) if isinstance(remote, str) and remote else LOCAL
    if (address in trusted_proxies and isinstance(forwarded_for, str)
            and len(forwarded_for) <= _MAX_HEADER):
        for hop in reversed(forwarded_for.split(",")):
            hop = _normal(hop.strip())
            if hop and hop not in trusted_proxies:
                return hop
    return address


def device_tag(device: str, salt: str) -> str:
    """What the store keeps of a device: a salted digest, so its address is not stored."""
    return hashlib.sha256(f"{salt}\0{device}".encode()).hexdigest()[:24]


def _normal(text: str) -> str:
    """An address in one spelling ("::ffff:10.0.0.5" is 10.0.0.5); '' if it is not one."""
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return ""
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)
