"""The SMTP transport (aiosmtplib): where a mail server is, one connection, safe error texts.

TLS certificates are always verified, against ``EXISONE_SMTP_CA_FILE`` when set, else the
system's CA store. STARTTLS is required (not opportunistic) for ``starttls`` servers: a server
that does not offer it is an error, never a silent fall back to plain text.
"""

from __future__ import annotations

import base64
import re
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

__all__ = [
    "SECURITY_MODES",
    "SmtpConnection",
    "SmtpServer",
    "describe_error",
    "is_permanent_refusal",
    "open_connection",
    "parse_smtp_url",
]

#: ``starttls`` (port 587), ``tls`` (implicit TLS, port 465), ``none`` (a local relay).
SECURITY_MODES = ("starttls", "tls", "none")
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_HOST = re.compile(r"^[A-Za-z0-9.\-_:\[\]]{1,253}$")
#: Longest error text kept (``last_error``).
MAX_ERROR = 500


@dataclass(frozen=True)
class SmtpServer:
    """A mail server and its login; the password never appears in ``repr``."""

    host: str
    port: int
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"SMTP security must be one of {', '.join(SECURITY_MODES)}")
        if not _HOST.match(self.host):
            raise ValueError("the SMTP host is not a host name or address")
        if not 0 < self.port < 65536:
            raise ValueError("the SMTP port must be between 1 and 65535")

    @classmethod
    def with_default_port(
        cls,
        host: str,
        port: int | None,
        security: str,
        username: str | None = None,
        password: str | None = None,
    ) -> SmtpServer:
        return cls(host, port or _DEFAULT_PORTS.get(security, 587), security, username, password)

    def describe(self) -> str:
        """``host:port (STARTTLS)``: for pages and logs (no credentials)."""
        label = {"starttls": "STARTTLS", "tls": "TLS", "none": "no TLS"}[self.security]
        return f"{self.host}:{self.port} ({label})"


def parse_smtp_url(url: str, label: str = "the SMTP URL") -> SmtpServer:
    """``smtp://user:pass@host:587`` (STARTTLS), ``smtps://…:465`` (TLS), ``?starttls=false``."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"{label} is not a URL") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"{label} must look like smtp://user:password@host:587 or smtps://…:465")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["true"])[-1].strip().lower()
    if starttls not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{label}: starttls must be true or false")
    if parts.scheme == "smtps":
        security = "tls"
    else:
        security = "starttls" if starttls in ("true", "1", "yes") else "none"
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    try:
        return SmtpServer.with_default_port(parts.hostname, port, security, username, password)
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from None


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifying TLS context: hostname and chain checked (``ca_file`` or the system's CAs)."""
    return ssl.create_default_context(cafile=ca_file)


class SmtpConnection:
    """An open, logged-in session; send any number of messages over it."""

    def __init__(self, client: aiosmtplib.SMTP, timeout: float) -> None:
        self._client = client
        self._timeout = timeout

    async def send(self, message: EmailMessage, sender: str, recipients: Iterable[str]) -> None:
        await self._client.send_message(
            message, sender=sender, recipients=list(recipients), timeout=self._timeout
        )

    @property
    def is_connected(self) -> bool:
        return bool(self._client.is_connected)


@asynccontextmanager
async def open_connection(
    server: SmtpServer, *, ca_file: str | None, timeout: float
) -> AsyncIterator[SmtpConnection]:
    """Connect (TLS or STARTTLS as configured, certificate verified), log in, yield, QUIT."""
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        username=server.username or None,
        password=server.password if server.username else None,
        use_tls=server.security == "tls",
        start_tls=server.security == "starttls",
        validate_certs=True,
        tls_context=tls_context(ca_file) if server.security != "none" else None,
        timeout=timeout,
    )
    await client.connect()
    try:
        yield SmtpConnection(client, timeout)
    finally:
        if client.is_connected:
            try:
                await client.quit(timeout=timeout)
            except (aiosmtplib.SMTPException, OSError):
                client.close()


def is_permanent_refusal(exc: BaseException) -> bool:
    """True when the server refused the recipient for good (5xx on RCPT TO)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(500 <= item.code < 600 for item in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPRecipientRefused) and 500 <= exc.code < 600


def _secret_forms(server: SmtpServer | None) -> list[str]:
    if server is None or not server.password:
        return []
    password = server.password
    user = server.username or ""
    forms = {
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
        base64.b64encode(f"{user}\0{user}\0{password}".encode()).decode(),
    }
    return sorted((form for form in forms if form), key=len, reverse=True)


def describe_error(exc: BaseException, server: SmtpServer | None = None) -> str:
    """A one-line text for ``last_error`` and the dashboard: the error's kind, the server's code
    and words, never the password (servers may echo the AUTH line; base64 forms are removed)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        text = "; ".join(f"{item.code} {item.message}" for item in exc.recipients)
        text = f"recipient refused: {text}"
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{type(exc).__name__}: {exc.code} {exc.message}"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        text = f"certificate not trusted: {exc.verify_message or exc}"
    elif isinstance(exc, TimeoutError):
        text = "timed out"
    else:
        text = f"{type(exc).__name__}: {exc}"
    for secret in _secret_forms(server):
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text[:MAX_ERROR]
