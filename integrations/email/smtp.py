"""Sends a message through the SMTP server an `SMTP_URL` names, with smtplib.

A connection per message: notes go out once per meeting, too rarely to keep one open.
Replies are told apart as SMTP means them: 4xx (and a connection refused, lost or timed
out) is worth trying again later, 5xx is final.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlsplit

from integrations.errors import IntegrationError, TransientIntegrationError


class EmailAddressError(IntegrationError):
    """An SMTP URL that names no server minutes can use."""


class PermanentEmailError(IntegrationError):
    """The server refused the message for good (a 5xx reply, a certificate not trusted)."""


class TransientEmailError(TransientIntegrationError):
    """The server is away or busy for now (a 4xx reply, no connection): try again later."""


class Security(StrEnum):
    PLAIN = "smtp"
    TLS = "smtps"  # TLS from the first byte (port 465)
    STARTTLS = "smtp+starttls"  # plain, then upgraded before anything else is said


_DEFAULT_PORTS = {Security.PLAIN: 25, Security.TLS: 465, Security.STARTTLS: 587}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    security: Security
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        """The server of `smtp://`, `smtps://` or `smtp+starttls://[user:password@]host[:port]`;
        user and password percent-decoded. Errors never repeat the URL: it holds the password."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise EmailAddressError("SMTP_URL is not a URL") from None
        try:
            security = Security(parts.scheme.lower())
        except ValueError:
            raise EmailAddressError(
                "SMTP_URL must start with smtp://, smtps:// or smtp+starttls://"
            ) from None
        if not parts.hostname:
            raise EmailAddressError("SMTP_URL names no host")
        return cls(
            security=security,
            host=parts.hostname,
            port=port or _DEFAULT_PORTS[security],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    @property
    def address(self) -> str:
        """Where, never who: safe in a log or an error."""
        return f"{self.security.value}://{self.host}:{self.port}"


class Mailer:
    """Sends messages from `sender` through `server`; TLS checks the server's certificate
    against the system's CAs and those of `ca_file`."""

    def __init__(
        self,
        server: SmtpServer,
        *,
        sender: str,
        copy_to: tuple[str, ...] = (),
        ca_file: Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.server = server
        self.sender = sender
        # Who gets every message besides the recipients a caller names (EMAIL_TO).
        self.copy_to = copy_to
        self.timeout = timeout
        self._tls = ssl.create_default_context()
        if ca_file is not None:
            self._tls.load_verify_locations(cafile=ca_file)

    def send(self, message: EmailMessage, recipients: list[str]) -> dict[str, str]:
        """Hands `message` over for `recipients`; the recipients the server refused while
        accepting the others, with its reply. Raises TransientEmailError or
        PermanentEmailError when nobody gets it."""
        try:
            with self._connect() as client:
                refused = client.send_message(message, self.sender, recipients)
        except smtplib.SMTPRecipientsRefused as error:
            # Every recipient refused: final only if every reply was.
            replies = error.recipients.values()
            reason = "; ".join(
                f"{to}: {_reply(code, text)}" for to, (code, text) in error.recipients.items()
            )
            if any(400 <= code < 500 for code, _ in replies):
                raise TransientEmailError(reason) from None
            raise PermanentEmailError(reason) from None
        except smtplib.SMTPResponseException as error:
            reason = _reply(error.smtp_code, error.smtp_error)
            if 400 <= error.smtp_code < 500:
                raise TransientEmailError(reason) from None
            raise PermanentEmailError(reason) from None
        except smtplib.SMTPNotSupportedError as error:
            raise PermanentEmailError(f"{self.server.address}: {error}") from None
        except ssl.SSLCertVerificationError as error:
            raise PermanentEmailError(
                f"{self.server.address}: certificate not trusted ({error.verify_message})"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            # Refused, reset, timed out, disconnected, a TLS handshake cut short.
            raise TransientEmailError(f"{self.server.address}: {_described(error)}") from None
        return {to: _reply(code, text) for to, (code, text) in refused.items()}

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        client: smtplib.SMTP
        if server.security is Security.TLS:
            client = smtplib.SMTP_SSL(
                server.host, server.port, timeout=self.timeout, context=self._tls
            )
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
        try:
            if server.security is Security.STARTTLS:
                client.starttls(context=self._tls)
            if server.username is not None:
                client.login(server.username, server.password or "")
        except BaseException:
            client.close()
            raise
        return client


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(message.split())}"


def _described(error: BaseException) -> str:
    # strerror rather than str(): an OSError's text may carry more than the reason.
    if isinstance(error, OSError) and error.strerror:
        return f"{type(error).__name__}: {error.strerror}"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
