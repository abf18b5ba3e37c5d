"""Templates: Jinja2 in its sandbox, placeholders checked when a template is saved.

A template is three parts: subject, plain text, HTML. The placeholders are plain Jinja variables
(``{{ActivationKey}}``, ``{{ProductName}}``, ``{{CustomerEmail}}`` as in ExisOne, plus those in
:data:`.kinds.PLACEHOLDERS`). The HTML part is escaped (autoescape); the subject is one line.
:func:`check_template` refuses, when a template is saved, a syntax error, an unknown
placeholder, and anything that fails a render with sample values; rendering at send time
then only meets values of the same shapes. The sandbox has no globals (no ``range``), refuses
attribute access to Python internals, and refuses ``*`` and ``**`` results beyond a size.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from ..errors import BadRequest
from .kinds import PLACEHOLDERS, MailKind, sample_context

__all__ = [
    "DEFAULT_TEMPLATES",
    "MAX_BODY",
    "MAX_SUBJECT",
    "Rendered",
    "TemplateRefused",
    "TemplateSource",
    "check_template",
    "render",
]

MAX_SUBJECT = 500
MAX_BODY = 100_000
#: Largest string or list a ``*`` may make, and largest ``**`` exponent.
_MAX_PRODUCT = 100_000
_MAX_EXPONENT = 100


class TemplateRefused(BadRequest):
    """400 ``invalid_mail_template``: the message says which part and what is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_mail_template", message)


@dataclass(frozen=True)
class TemplateSource:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, (int, float)) and abs(right) > _MAX_EXPONENT:
                raise SecurityError("the exponent is too large")
            return operator.pow(left, right)
        for sized, count in ((left, right), (right, left)):
            sequence = isinstance(sized, (str, list, tuple)) and isinstance(count, int)
            if sequence and len(sized) * count > _MAX_PRODUCT:
                raise SecurityError("the repeated text is too long")
        return operator.mul(left, right)


def _environment(autoescape: bool) -> _Sandbox:
    environment = _Sandbox(
        undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True
    )
    environment.globals.clear()
    return environment


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)
_PARTS = (("subject", _TEXT, MAX_SUBJECT), ("text", _TEXT, MAX_BODY), ("html", _HTML, MAX_BODY))
_LABELS = {"subject": "the subject", "text": "the plain text", "html": "the HTML"}


@functools.lru_cache(maxsize=256)
def _compiled(html: bool, text: str) -> Template:
    """A part compiled once per process (compiling costs far more than rendering)."""
    return (_HTML if html else _TEXT).from_string(text)


def render(source: TemplateSource, context: dict[str, Any]) -> Rendered:
    """The three parts rendered; the subject on one line. Raises Jinja's errors."""
    subject = _compiled(False, source.subject).render(context)
    return Rendered(
        subject=" ".join(subject.split())[:MAX_SUBJECT],
        text=_compiled(False, source.text).render(context),
        html=_compiled(True, source.html).render(context),
    )


def check_template(kind: MailKind, source: TemplateSource) -> Rendered:
    """The sample rendering of a template fit to be saved, else :class:`TemplateRefused`."""
    allowed = set(PLACEHOLDERS[kind])
    for name, environment, limit in _PARTS:
        text: str = getattr(source, name)
        label = _LABELS[name]
        if len(text) > limit:
            raise TemplateRefused(f"Template refused: {label} is over {limit} characters.")
        try:
            parsed = environment.parse(text)
        except TemplateSyntaxError as exc:
            raise TemplateRefused(
                f"Template refused: syntax error in {label}, line {exc.lineno}: {exc.message}"
            ) from None
        unknown = sorted(meta.find_undeclared_variables(parsed) - allowed)
        if unknown:
            names = ", ".join("{{" + item + "}}" for item in unknown)
            raise TemplateRefused(
                f"Template refused: unknown placeholder {names} in {label}. "
                f"This message knows: {', '.join(sorted(allowed))}."
            )
    try:
        rendered = render(source, sample_context(kind))
    except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateRefused(f"Template refused: it fails with sample values: {exc}") from None
    if not rendered.subject:
        raise TemplateRefused("Template refused: the subject is empty.")
    if not rendered.text.strip():
        raise TemplateRefused("Template refused: the plain text is empty.")
    return rendered


_SIGNATURE_TEXT = "Questions? Write to {{ SupportEmail }}.\n"
_SIGNATURE_HTML = (
    '<p>Questions? Write to <a href="mailto:{{ SupportEmail }}">{{ SupportEmail }}</a>.</p>\n'
)
_VALIDITY = (
    "{% if item.IsPerpetual %}no expiry{% else %}valid until {{ item.ExpirationDate }}{% endif %}"
)
_DETAILS_TEXT = (
    "Product: {{ ProductName }}\n"
    "Activation key: {{ ActivationKey }}\n"
    "Valid until: {{ ExpirationDate }}\n"
    "{% if Features %}Features: {{ Features }}\n{% endif %}"
    "Devices: {{ Seats }}\n"
)
_DETAILS_HTML = (
    "<table>\n"
    '<tr><th align="left">Product</th><td>{{ ProductName }}</td></tr>\n'
    '<tr><th align="left">Activation key</th><td><code>{{ ActivationKey }}</code></td></tr>\n'
    '<tr><th align="left">Valid until</th><td>{{ ExpirationDate }}</td></tr>\n'
    '{% if Features %}<tr><th align="left">Features</th><td>{{ Features }}</td></tr>\n'
    '{% endif %}<tr><th align="left">Devices</th><td>{{ Seats }}</td></tr>\n'
    "</table>\n"
)


def _default(subject: str, opening: str, closing: str = "") -> TemplateSource:
    text = (
        f"Hello,\n\n{opening}\n\n{_DETAILS_TEXT}\n{closing + chr(10) + chr(10) if closing else ''}"
    )
    html = (
        f"<p>Hello,</p>\n<p>{opening}</p>\n{_DETAILS_HTML}{f'<p>{closing}</p>' if closing else ''}"
    )
    return TemplateSource(subject, text + _SIGNATURE_TEXT, html + "\n" + _SIGNATURE_HTML)


#: Used for a kind when neither the product nor the tenant has its own template.
DEFAULT_TEMPLATES: dict[MailKind, TemplateSource] = {
    MailKind.PURCHASE: _default(
        "Your {{ ProductName }} activation key",
        "Thank you for your purchase. Here is your activation key.",
        "Enter the key in {{ ProductName }} to activate it.",
    ),
    MailKind.RENEWAL_REMINDER: _default(
        "Your {{ ProductName }} license expires on {{ ExpirationDate }}",
        "Your license expires in {{ DaysLeft }} day{{ '' if DaysLeft == 1 else 's' }}.",
        "Renew it to keep using {{ ProductName }} without interruption.",
    ),
    MailKind.LICENSE_EXPIRED: _default(
        "Your {{ ProductName }} license has expired",
        "Your license expired on {{ ExpirationDate }}.",
        "Renew it to use {{ ProductName }} again.",
    ),
    MailKind.TRIAL_ENDING: _default(
        "Your {{ ProductName }} trial ends on {{ ExpirationDate }}",
        "Your trial ends in {{ DaysLeft }} day{{ '' if DaysLeft == 1 else 's' }}.",
        "Buy a license to keep using {{ ProductName }}.",
    ),
    MailKind.YOUR_KEYS: TemplateSource(
        "Your activation keys",
        "Hello,\n\nThese are the activation keys for {{ CustomerEmail }}:\n\n"
        "{% for item in Licenses %}- {{ item.ProductName }}: {{ item.ActivationKey }} ("
        + _VALIDITY
        + ")\n{% endfor %}\n"
        + _SIGNATURE_TEXT,
        "<p>Hello,</p>\n<p>These are the activation keys for {{ CustomerEmail }}:</p>\n<ul>\n"
        "{% for item in Licenses %}<li>{{ item.ProductName }}: <code>{{ item.ActivationKey }}"
        "</code> (" + _VALIDITY + ")</li>\n{% endfor %}</ul>\n" + _SIGNATURE_HTML,
    ),
    MailKind.PORTAL_SIGN_IN: TemplateSource(
        "Sign in to {{ PortalName }}",
        "Hello,\n\nOpen this link to sign in to {{ PortalName }} and manage your licenses:\n\n"
        "{{ SignInLink }}\n\nThe link works once, for {{ LinkMinutes }} minutes. If you did not "
        "ask for it, ignore this e-mail.\n\n" + _SIGNATURE_TEXT,
        "<p>Hello,</p>\n<p>Open this link to sign in to {{ PortalName }} and manage your "
        'licenses:</p>\n<p><a href="{{ SignInLink }}">Sign in to {{ PortalName }}</a></p>\n'
        "<p>The link works once, for {{ LinkMinutes }} minutes. If you did not ask for it, "
        "ignore this e-mail.</p>\n" + _SIGNATURE_HTML,
    ),
}
