"""Serving the lab over https on the class network: the self-signed certificate that
`python -m mnist_core https-cert` makes, the https:// join address, QR code and teacher link,
and a real Streamlit server answering over TLS with that certificate."""
from __future__ import annotations

import os
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit import config as streamlit_config

from ui import resources
from mnist_core.classroom.https_cert import (CERT_NAME, KEY_NAME, MAX_DAYS, covered_hosts,
                                   make_certificate, streamlit_command)
from mnist_core.classroom.joining import join_address
from tests.helpers import ROOT, open_page

x509 = pytest.importorskip("cryptography.x509")


def _certificate(folder: Path, **kwargs):
    return make_certificate(folder, kwargs.pop("ips", ["192.168.1.20", "10.0.0.5", "127.0.0.1"]),
                            kwargs.pop("names", ["teacher-laptop", "localhost"]), **kwargs)


def _read(path: Path):
    return x509.load_pem_x509_certificate(path.read_bytes())


# --- the certificate ---------------------------------------------------------------------------

def test_the_certificate_names_the_given_addresses_and_its_key_is_private(tmp_path):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    made = _certificate(tmp_path / "https")
    assert made.cert_file == tmp_path / "https" / CERT_NAME
    cert = _read(made.cert_file)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [
        "192.168.1.20", "10.0.0.5", "127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["teacher-laptop", "localhost"]
    assert covered_hosts(made.cert_file) == {"192.168.1.20", "10.0.0.5", "127.0.0.1",
                                             "teacher-laptop", "localhost"}
    assert cert.issuer == cert.subject                                   # self-signed
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca  # iPads
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in \
        cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert days == MAX_DAYS and cert.not_valid_before_utc.timestamp() < time.time()
    key = load_pem_private_key(made.key_file.read_bytes(), None)
    assert key.public_key() == cert.public_key()
    assert stat.S_IMODE(made.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(made.cert_file.stat().st_mode) == 0o644
    assert stat.S_IMODE(made.key_file.parent.stat().st_mode) == 0o700
    assert [p.name for p in made.key_file.parent.iterdir()] in (
        [CERT_NAME, KEY_NAME], [KEY_NAME, CERT_NAME])                    # no temporary files
    assert len(made.fingerprint.split(":")) == 32


def test_an_existing_certificate_is_replaced_only_with_force(tmp_path):
    first = _certificate(tmp_path)
    before = (first.cert_file.read_bytes(), first.key_file.read_bytes())
    with pytest.raises(ValueError, match="already exist.*--force"):
        _certificate(tmp_path)
    assert (first.cert_file.read_bytes(), first.key_file.read_bytes()) == before
    second = _certificate(tmp_path, force=True)
    assert second.fingerprint != first.fingerprint
    assert stat.S_IMODE(second.key_file.stat().st_mode) == 0o600


@pytest.mark.parametrize("kwargs, message", [
    ({"ips": ["192.168.1.300"]}, "not an IP address"),
    ({"names": ["bad name"]}, "not a host name"),
    ({"ips": [], "names": []}, "at least one"),
    ({"days": MAX_DAYS + 1}, "at most|from 1 to 825"),
])
def test_bad_certificate_requests_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _certificate(tmp_path, **kwargs)
    assert not list(tmp_path.iterdir())


def test_the_command_makes_the_pair_and_prints_how_to_start(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "mnist_core", "https-cert", *args],
                              capture_output=True, text=True, timeout=120, cwd=ROOT,
                              env=os.environ.copy())

    folder = tmp_path / "certs"
    proc = cli("--dir", str(folder), "--ip", "10.9.8.7", "--name", "lab.school.example")
    assert proc.returncode == 0, proc.stderr
    cert, key = folder / CERT_NAME, folder / KEY_NAME
    assert {"10.9.8.7", "127.0.0.1", "localhost", "lab.school.example"} <= covered_hosts(cert)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    command = next(line.strip() for line in proc.stdout.splitlines()
                   if line.strip().startswith("streamlit run"))
    assert command == (f"streamlit run streamlit_app.py --server.address 0.0.0.0 "
                       f"--server.sslCertFile {cert} --server.sslKeyFile {key}")
    assert "https://10.9.8.7:8501" in proc.stdout and "fingerprint" in proc.stdout
    again = cli("--dir", str(folder))
    assert again.returncode == 2 and again.stderr.startswith("error: ")
    assert "already exist" in again.stderr and "--force" in again.stderr
    assert cli("--dir", str(folder), "--force").returncode == 0


def test_by_default_the_pair_goes_into_the_lab_home_and_teacher_links_use_https(lab_home):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                              text=True, timeout=120, cwd=ROOT, env=os.environ.copy())

    assert cli("teacher-link").stdout.startswith("http://")
    assert cli("https-cert").returncode == 0
    assert (lab_home / "https" / KEY_NAME).is_file()
    assert cli("teacher-link").stdout.startswith("https://")
    assert cli("teacher-link", "--no-https").stdout.startswith("http://")


# --- the join address, QR code and teacher link ------------------------------------------------

@pytest.mark.parametrize("address, lan, url", [
    (None, "192.168.1.20", "https://192.168.1.20:8501"),
    ("127.0.0.1", "10.0.0.5", "https://127.0.0.1:8501"),
    ("fe80::1", None, "https://[fe80::1]:8501"),
])
def test_join_address_over_https(address, lan, url):
    assert join_address(address, 8501, "", lan=lan, https=True).url == url
    assert join_address(address, 8501, "", lan=lan).url == url.replace("https", "http", 1)


@pytest.fixture
def serving_https(tmp_path, monkeypatch):
    """Streamlit's options as `streamlit run ... --server.sslCertFile ...` sets them."""
    made = _certificate(tmp_path / "https")
    monkeypatch.setattr(resources, "lan_ip", lambda: "192.168.1.20")
    for name, value in (("server.sslCertFile", str(made.cert_file)),
                        ("server.sslKeyFile", str(made.key_file))):
        streamlit_config.set_option(name, value)
    yield made
    for name in ("server.sslCertFile", "server.sslKeyFile"):
        streamlit_config.set_option(name, None)


def test_home_shows_the_https_address_and_qr_code_and_the_console_link_is_https(
        serving_https, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", "owl-7-maple")
    at = open_page()
    url = "https://192.168.1.20:8501"
    assert [h.value for h in at.header] == [url]
    png = resources.qr_code(url)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert cv2.QRCodeDetector().detectAndDecode(image)[0] == url
    assert any("Encrypted (https)" in c.value for c in at.caption)
    assert not at.warning
    printed = capsys.readouterr().out
    assert f"{url}/?teacher=" in printed                      # the console's teacher link


def test_home_warns_when_the_certificate_is_for_another_address(serving_https, monkeypatch):
    monkeypatch.setattr(resources, "lan_ip", lambda: "172.16.4.4")   # the laptop moved
    at = open_page()
    assert [h.value for h in at.header] == ["https://172.16.4.4:8501"]
    assert any("not made for 172.16.4.4" in w.value and "https-cert --force" in w.value
               for w in at.warning)


def test_home_over_http_with_a_teacher_key_says_it_is_not_encrypted(monkeypatch):
    monkeypatch.setattr(resources, "lan_ip", lambda: "192.168.1.20")
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", "owl-7-maple")
    at = open_page()
    assert [h.value for h in at.header] == ["http://192.168.1.20:8501"]
    assert any("Not encrypted (http)" in c.value and "https-cert" in c.value for c in at.caption)


# --- a real server ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamlit_serves_https_with_the_certificate(tmp_path):
    """`streamlit run` with the printed options answers over TLS, and the certificate verifies
    for 127.0.0.1 and localhost when it is the only trusted one (as a browser that accepted it
    does); plain http gets no page."""
    made = _certificate(tmp_path)
    port = _free_port()
    command = streamlit_command(made, address="127.0.0.1", port=port).split()
    assert command[:3] == ["streamlit", "run", "streamlit_app.py"]
    server = subprocess.Popen([sys.executable, "-m", *command, "--server.headless", "true"],
                              cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    trusting = ssl.create_default_context(cafile=str(made.cert_file))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/_stcore/health",
                                            context=trusting, timeout=5) as answer:
                    assert (answer.status, answer.read()) == (200, b"ok")
                break
            except urllib.error.URLError as e:
                if isinstance(e.reason, ssl.SSLError) or time.monotonic() > deadline \
                        or server.poll() is not None:
                    raise
                time.sleep(0.2)
        with urllib.request.urlopen(f"https://localhost:{port}/_stcore/health",
                                    context=trusting, timeout=5) as answer:
            assert answer.status == 200
        with pytest.raises(urllib.error.URLError) as untrusted:    # a browser's first visit
            urllib.request.urlopen(f"https://127.0.0.1:{port}/_stcore/health", timeout=5,
                                   context=ssl.create_default_context())
        assert isinstance(untrusted.value.reason, ssl.SSLCertVerificationError)
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert f"https://127.0.0.1:{port}" in output
