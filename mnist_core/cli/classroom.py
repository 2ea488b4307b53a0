"""`teacher-link` and `https-cert`: what a teacher sets up for a class from a terminal."""
from __future__ import annotations

import sys
from pathlib import Path

from mnist_core import settings


def cmd_teacher_link(args) -> int:
    from mnist_core.classroom.joining import lan_ip
    from mnist_core.lab.store import RunStore
    from mnist_core.classroom.teacher import LINK_SECONDS, create_link_token, teacher_link

    https = args.https
    if https is None:
        from mnist_core.classroom.https_cert import CERT_NAME, default_dir

        https = (default_dir() / CERT_NAME).is_file()
    url = args.url or f"{'https' if https else 'http'}://{lan_ip() or 'localhost'}:8501"
    print(teacher_link(url, create_link_token(RunStore())))
    print(f"(works once, within {LINK_SECONDS // 3600} hours, on a server of this lab home "
          f"({settings.lab_home()}) that has a teacher key)", file=sys.stderr)
    return 0


def cmd_https_cert(args) -> int:
    from mnist_core.classroom.https_cert import (default_dir, make_certificate,
                                                 streamlit_command, this_computer)

    ips, names = this_computer()
    try:
        cert = make_certificate(Path(args.dir) if args.dir else default_dir(),
                                ips + args.ip, names + args.name, days=args.days,
                                force=args.force)
    except ImportError as e:
        raise ValueError(f"making a certificate needs the 'cryptography' package ({e}): "
                         "pip install -r requirements.txt") from None
    lan = [ip for ip in cert.ips if ip not in ("127.0.0.1", "::1")]
    port = args.port or 8501
    print(f"Made a self-signed certificate for {', '.join(cert.ips + cert.names)}, valid until "
          f"{cert.not_after:%Y-%m-%d}.")
    print(f"  certificate:  {cert.cert_file}")
    print(f"  private key:  {cert.key_file} (readable by you only; it never leaves this "
          "computer)")
    print(f"  SHA-256 fingerprint: {cert.fingerprint}")
    print("\nStart the lab over https (with MNIST_LAB_TEACHER_KEY=... in front, as usual):\n")
    print(f"  {streamlit_command(cert, port=args.port)}\n")
    joins = " or ".join(f"https://{ip}:{port}" for ip in lan) or f"https://localhost:{port}"
    print(f"Students open {joins} (the Home page shows it, with its QR code). The certificate "
          "is self-signed, so browsers warn that the connection is not private: on Chromebooks, "
          "Android and laptops they go on once; iPads and iPhones need cert.pem installed and "
          "fully trusted first (README, \"Over https\"). If this computer's address changes, "
          "make a new one with --force.")
    return 0
