"""A queued row as the MIME message that goes on the wire."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from .routing import Route

__all__ = ["build_message", "envelope_sender"]


def envelope_sender(route: Route) -> str:
    """``MAIL FROM``: the bare address of the route's From."""
    return parseaddr(route.sender)[1]


def build_message(
    route: Route,
    *,
    to: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    created_at: datetime,
) -> EmailMessage:
    """multipart/alternative (plain text, then HTML) with a stable ``Message-ID`` and the
    ``Date`` the message was queued, so every attempt sends the same message."""
    message = EmailMessage()
    message["From"] = route.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(created_at)
    message["Message-ID"] = message_id
    if route.reply_to:
        message["Reply-To"] = route.reply_to
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    if html.strip():
        message.add_alternative(html, subtype="html")
    return message
