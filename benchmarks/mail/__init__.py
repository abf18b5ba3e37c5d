"""The mail group: the e-mail worker's send rate to a local SMTP server."""

from __future__ import annotations

from benchmarks.mail.cases import run_mail_group
from benchmarks.registry import register

__all__ = ["run_mail_group"]

register("mail", "mail worker: messages sent per second to a local SMTP server (STARTTLS)")(
    run_mail_group
)
