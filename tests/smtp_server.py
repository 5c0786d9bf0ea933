#!/usr/bin/env python3
"""A real SMTP server for the test suite: aiosmtpd on a loopback port.

    smtp_server.py PORT OUTDIR [plain|starttls|tls]

Each message it accepts is written to OUTDIR as one JSON file: envelope, headers, and the
decoded plain-text and HTML parts. In `starttls` and `tls` modes it makes a self-signed
certificate for 127.0.0.1 (written to OUTDIR/ca.pem for the client to trust) and requires
AUTH as user `gatehouse` with the password in OUTDIR/password. Prints `ready` once listening
and runs until its standard input closes.
"""
import datetime
import email
import email.policy
import ipaddress
import json
import logging
import os
import ssl
import sys
import time
import uuid
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Sink:
    def __init__(self, out, implicit_tls):
        self.out = out
        # aiosmtpd sets `session.ssl` after STARTTLS only.
        self.implicit_tls = implicit_tls

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "message_id": str(msg["Message-ID"]),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
            "tls": session.ssl is not None or self.implicit_tls,
            "authenticated": bool(session.authenticated),
        }
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.json"
        tmp = os.path.join(self.out, name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.out, name))
        return "250 OK"


def certificate(out):
    """A private CA (written to OUTDIR/ca.pem) and a server certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def builder(subject, issuer, public_key):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gatehouse test CA")])
    ca = (
        builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]),
            ca_name,
            key.public_key(),
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = os.path.join(out, "ca.pem")
    cert_path = os.path.join(out, "cert.pem")
    key_path = os.path.join(out, "key.pem")
    with open(ca_path, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(cert_path, "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


def main():
    warnings.simplefilter("ignore")
    # Refused handshakes are what some tests expect; keep their tracebacks out of the output.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    port, out = int(sys.argv[1]), sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else "plain"
    kwargs = {}
    if mode in ("starttls", "tls"):
        ctx = certificate(out)
        with open(os.path.join(out, "password")) as f:
            password = f.read().strip()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == b"gatehouse" and auth_data.password == password.encode()
            return AuthResult(success=ok)

        kwargs.update(authenticator=authenticator, auth_required=True)
        if mode == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        else:
            # Implicit TLS: the whole connection is encrypted, which aiosmtpd does not count
            # as "TLS" for its AUTH rule.
            kwargs.update(ssl_context=ctx, auth_require_tls=False)
    controller = Controller(Sink(out, mode == "tls"), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
