"""How students reach this server: its address for them, from Streamlit's own options."""
from __future__ import annotations

import streamlit as st

from ui import resources


def https_certificate() -> str | None:
    """The certificate file Streamlit serves https with (`server.sslCertFile`), or None when
    it serves plain http."""
    return st.get_option("server.sslCertFile") or None


def join_address():
    """The address students should open (the LAN address when the server listens beyond
    this computer; https:// when it serves https)."""
    from mnist_core.classroom.joining import join_address as address

    return address(st.get_option("server.address"), int(st.get_option("server.port")),
                   st.get_option("server.baseUrlPath") or "", lan=resources.lan_ip(),
                   https=https_certificate() is not None)
