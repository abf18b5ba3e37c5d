"""E-mail settings, read from ``EXISONE_SMTP_*`` and ``EXISONE_MAIL_*`` environment variables.

=======================================  ==================================================
variable                                 meaning (default)
=======================================  ==================================================
EXISONE_SMTP_URL                         the server-wide mail server (none: each tenant sets
                                         its own or its mail stays queued):
                                         ``smtp://user:pass@host:587`` (STARTTLS, required),
                                         ``smtps://user:pass@host:465`` (implicit TLS),
                                         ``smtp://host:25?starttls=false`` (plain, for a local
                                         relay only); user and password percent-encoded
EXISONE_MAIL_FROM                        ``From`` of the server's messages, e.g.
                                         ``Acme <licenses@acme.example>`` (a tenant may set its
                                         own); required with EXISONE_SMTP_URL
EXISONE_SMTP_CA_FILE                     PEM file of the CA certificates that mail servers'
                                         certificates are checked against (the system's)
EXISONE_MAIL_WORKER                      run the sending worker in the server (1)
EXISONE_MAIL_POLL_SECONDS                how often the worker looks for due messages (2)
EXISONE_MAIL_SCAN_SECONDS                how often reminders and expiry mail are looked for (300)
EXISONE_MAIL_TIMEOUT_SECONDS             time limit of a connection and of one message (30)
EXISONE_MAIL_RETRY_BASE_SECONDS          first retry delay, doubled per attempt (60)
EXISONE_MAIL_RETRY_MAX_SECONDS           longest delay between two attempts (3600)
EXISONE_MAIL_RETRY_HOURS                 retry window, at least 24; then ``failed`` (48)
=======================================  ==================================================

Certificates are always verified (STARTTLS and implicit TLS); there is no switch to turn that
off. A test or a private CA sets EXISONE_SMTP_CA_FILE.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from email.headerregistry import Address

from .addresses import check_sender
from .smtp import SmtpServer, parse_smtp_url

__all__ = ["MIN_RETRY_HOURS", "MailSettings"]

_TRUE = {"1", "true", "yes", "on"}

#: Messages are retried at least this long (the delivery guarantee in docs/email.md).
MIN_RETRY_HOURS = 24.0


@dataclass(frozen=True)
class MailSettings:
    #: The server-wide mail server; None = only tenants with their own SMTP send.
    smtp: SmtpServer | None = None
    #: ``From`` of the server's messages (checked: ``Name <user@domain>`` or ``user@domain``).
    sender: str | None = None
    ca_file: str | None = None
    worker: bool = True
    poll_seconds: float = 2.0
    scan_seconds: float = 300.0
    timeout_seconds: float = 30.0
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    retry_hours: float = 48.0

    @property
    def retry_window(self) -> timedelta:
        return timedelta(hours=self.retry_hours)

    @property
    def lease(self) -> timedelta:
        """How long a claimed batch stays locked: the worker stops starting new messages of the
        batch well before (:attr:`send_budget`)."""
        return timedelta(seconds=max(60.0, 6 * self.timeout_seconds))

    @property
    def send_budget(self) -> float:
        """Seconds after the claim in which the worker may start sending a claimed message."""
        return self.lease.total_seconds() - 3 * self.timeout_seconds

    @property
    def message_domain(self) -> str:
        """Right-hand side of the ``Message-ID`` header: the server sender's domain."""
        if self.sender:
            return Address(addr_spec=_addr_spec(self.sender)).domain
        return "exisone-server.localhost"

    def with_changes(self, **changes: object) -> MailSettings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MailSettings:
        env = os.environ if environ is None else environ

        def number(name: str, default: float) -> float:
            text = env.get(f"EXISONE_MAIL_{name}")
            if not text:
                return default
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"EXISONE_MAIL_{name} must be a number") from None
            if value < 0:
                raise ValueError(f"EXISONE_MAIL_{name} must not be negative")
            return value

        url = env.get("EXISONE_SMTP_URL") or None
        sender = env.get("EXISONE_MAIL_FROM") or None
        smtp = parse_smtp_url(url, "EXISONE_SMTP_URL") if url else None
        if sender is not None:
            sender = check_sender(sender, "EXISONE_MAIL_FROM")
        if smtp is not None and sender is None:
            raise ValueError("EXISONE_MAIL_FROM is required with EXISONE_SMTP_URL")
        ca_file = env.get("EXISONE_SMTP_CA_FILE") or None
        if ca_file is not None and not os.path.isfile(ca_file):
            raise ValueError(f"EXISONE_SMTP_CA_FILE: no file at {ca_file}")
        retry_hours = number("RETRY_HOURS", 48.0)
        if retry_hours < MIN_RETRY_HOURS:
            raise ValueError(f"EXISONE_MAIL_RETRY_HOURS must be at least {MIN_RETRY_HOURS:g}")
        worker = env.get("EXISONE_MAIL_WORKER")
        return cls(
            smtp=smtp,
            sender=sender,
            ca_file=ca_file,
            worker=True if not worker else worker.strip().lower() in _TRUE,
            poll_seconds=number("POLL_SECONDS", 2.0),
            scan_seconds=number("SCAN_SECONDS", 300.0),
            timeout_seconds=number("TIMEOUT_SECONDS", 30.0) or 30.0,
            retry_base_seconds=number("RETRY_BASE_SECONDS", 60.0),
            retry_max_seconds=number("RETRY_MAX_SECONDS", 3600.0),
            retry_hours=retry_hours,
        )


def _addr_spec(sender: str) -> str:
    from email.utils import parseaddr

    return parseaddr(sender)[1]
