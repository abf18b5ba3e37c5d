"""A real SMTP server for the e-mail tests: aiosmtpd in a thread on a free loopback port.

Modes: ``starttls`` (STARTTLS required, AUTH only after it), ``tls`` (implicit TLS, as on
465) and ``none`` (plain, as a local relay). Certificates come from a trustme CA whose PEM file
``ca_file`` the sender must be given (EXISONE_SMTP_CA_FILE). Received messages are parsed into
``messages``; ``refuse`` holds recipients answered with 550; ``stop()`` and ``start()`` take the
server down and back up on the same port.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "mailer"
PASSWORD = "s3cret-Pa55word!"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class _Handler:
    server: MailServer

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.server.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.server.delay:
            time.sleep(self.server.delay)  # a slow server (in its own thread)
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.server.lock:
            self.server.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), parsed)
            )
        return "250 Message accepted for delivery"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == USER.encode()
        and data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class MailServer:
    mode: str
    ca: trustme.CA
    ca_file: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    messages: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    delay: float = 0.0
    auth: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        """EXISONE_SMTP_URL for this server (with the login when it asks for one)."""
        login = f"{USER}:{PASSWORD.replace('!', '%21')}@" if self.auth else ""
        if self.mode == "tls":
            return f"smtps://{login}{self.host}:{self.port}"
        suffix = "?starttls=false" if self.mode == "none" else ""
        return f"smtp://{login}{self.host}:{self.port}{suffix}"

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context

    def start(self) -> None:
        kwargs: dict[str, Any] = {"hostname": self.host, "port": self.port}
        if self.auth:
            kwargs.update(authenticator=_authenticator, auth_required=True)
        if self.mode == "starttls":
            kwargs.update(tls_context=self._context(), require_starttls=True)
        elif self.mode == "tls":
            # aiosmtpd counts only STARTTLS as TLS for AUTH; here the whole connection is TLS.
            kwargs.update(ssl_context=self._context(), auth_require_tls=False)
        else:
            kwargs.update(auth_require_tls=False)
        controller = Controller(_Handler(self), **kwargs)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.messages)} messages arrived, wanted {count}")


@contextmanager
def running_mail_server(
    tmp_path: Path, mode: str = "starttls", auth: bool | None = None
) -> Iterator[MailServer]:
    """A started server; ``auth`` defaults to a login except for the plain relay."""
    ca = trustme.CA()
    ca_file = tmp_path / f"smtp-ca-{mode}.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = MailServer(
        mode=mode, ca=ca, ca_file=ca_file, auth=mode != "none" if auth is None else auth
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
