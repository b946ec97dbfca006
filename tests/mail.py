"""Real SMTP servers on loopback for the email tests (aiosmtpd, in a thread of the test).

Each keeps the messages it accepted, parsed, with the envelope's recipients; `replies`
queues the answers to give to DATA before accepting (a 451 twice, a 550 for good).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage


@dataclass
class Recorder:
    """The server's handler: answers DATA from `replies` first, then accepts."""

    replies: deque[str] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    # Given: the first sender is held at MAIL FROM (`sending` set) until `go` is set.
    hold: tuple[threading.Event, threading.Event] | None = None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.hold is not None:
            sending, go = self.hold
            self.hold = None
            sending.set()
            await asyncio.to_thread(go.wait)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.replies:
            self.refused += 1
            return self.replies.popleft()
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(list(envelope.rcpt_tos), parsed))
        return "250 OK"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def self_signed_certificate(folder: Path) -> Certificate:
    """A certificate for 127.0.0.1 signed by itself, made with the openssl command."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={HOST}",
            "-addext", f"subjectAltName=IP:{HOST}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return Certificate(cert, key)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LoopbackServer:
    url: str  # SMTP_URL for it
    recorder: Recorder

    @property
    def received(self) -> list[Received]:
        return self.recorder.received


def accept_only(user: str, password: str) -> Any:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        # handled=False: aiosmtpd then answers a refusal itself (535).
        return AuthResult(success=ok, handled=False)

    return authenticate


@contextmanager
def smtp_server(
    *,
    scheme: str = "smtp",
    certificate: Certificate | None = None,
    user: str | None = None,
    password: str | None = None,
    userinfo: str | None = None,
    replies: tuple[str, ...] = (),
    hold: tuple[threading.Event, threading.Event] | None = None,
) -> Iterator[LoopbackServer]:
    """An SMTP server on a free loopback port: plain, `smtps` (TLS at once) or
    `smtp+starttls` (given a certificate), asking for AUTH after STARTTLS given a user; its
    SMTP_URL
    carries `userinfo` (the percent-encoded user:password) as given."""
    recorder = Recorder(deque(replies), hold=hold)
    port = free_port()
    options: dict[str, Any] = {}
    if scheme == "smtps":
        assert certificate is not None
        options["ssl_context"] = certificate.server_context()
    elif scheme == "smtp+starttls":
        assert certificate is not None
        options.update(tls_context=certificate.server_context(), require_starttls=True)
    if user is not None:
        assert password is not None
        # Only after STARTTLS, as a server on the internet asks: never a password in clear.
        options.update(authenticator=accept_only(user, password), auth_required=True)
    controller = Controller(recorder, hostname=HOST, port=port, **options)
    controller.start()
    try:
        credentials = f"{userinfo}@" if userinfo else ""
        yield LoopbackServer(f"{scheme}://{credentials}{HOST}:{port}", recorder)
    finally:
        controller.stop()
