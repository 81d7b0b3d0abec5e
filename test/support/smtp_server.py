"""A real SMTP submission server for tests: Debian's aiosmtpd (python3-aiosmtpd) with STARTTLS
required before anything else, AUTH (PLAIN/LOGIN) required and only after TLS. Each accepted
message is printed as one line "MAIL <json>" (envelope, TLS/auth facts, decoded subject and text
body, and the raw message for secret scans). Stops on SIGTERM.

usage: smtp_server.py HOST PORT CERT_PEM KEY_PEM USER PASSWORD
"""
import json
import signal
import ssl
import sys
from email import message_from_bytes
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

host, port, cert, key, user, password = sys.argv[1:7]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = message_from_bytes(raw, policy=default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "subject": str(msg["subject"]),
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "event": str(msg["x-nodegate-event"]),
            "text": body.get_content().replace("\r\n", "\n") if body is not None else None,
            "raw": raw.decode("utf-8", "replace"),
        }
        print("MAIL " + json.dumps(record), flush=True)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Handler(),
    hostname=host,
    port=int(port),
    tls_context=context,
    require_starttls=True,
    authenticator=authenticator,
    auth_required=True,
    auth_require_tls=True,
)
controller.start()
print(f"READY {host}:{port}", flush=True)


def stop(*_):
    controller.stop()
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
while True:
    signal.pause()
