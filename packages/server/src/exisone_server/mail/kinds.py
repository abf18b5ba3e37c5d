"""The messages the server sends and the placeholders each one's templates may use."""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["LICENSE_KINDS", "PLACEHOLDERS", "MailKind", "sample_context"]


class MailKind(enum.StrEnum):
    #: The key after a purchase (enqueued by whoever creates the license from a payment).
    PURCHASE = "purchase"
    #: ``renewalReminderDays`` before expiry, once per license and expiry date.
    RENEWAL_REMINDER = "renewal_reminder"
    #: Once per license and expiry date, after it expired.
    LICENSE_EXPIRED = "license_expired"
    #: Before a trial license ends (products that switch it on).
    TRIAL_ENDING = "trial_ending"
    #: Every key of one customer (on request: dashboard, API, customer portal).
    YOUR_KEYS = "your_keys"
    #: A single-use link that signs a customer in to the customer portal.
    PORTAL_SIGN_IN = "portal_sign_in"


#: The kinds about one license (their templates may be set per product).
LICENSE_KINDS = (
    MailKind.PURCHASE,
    MailKind.RENEWAL_REMINDER,
    MailKind.LICENSE_EXPIRED,
    MailKind.TRIAL_ENDING,
)

#: One license's placeholders (also the fields of each item of ``Licenses``).
_LICENSE_FIELDS = {
    "ActivationKey": "the activation key, XXXX-XXXX-XXXX-XXXX",
    "ProductName": "the product's name",
    "ExpirationDate": "the expiry day, YYYY-MM-DD, or 'never'",
    "IsPerpetual": "true when the license never expires",
    "DaysLeft": "whole days until the expiry (0 once expired; 0 for perpetual licenses)",
    "Features": "the license's features, comma separated ('' when none)",
    "FeatureList": "the features as a list, for {% for f in FeatureList %}",
    "Seats": "devices the key may be active on: a number or 'unlimited'",
}
_COMMON = {
    "CustomerEmail": "the customer's e-mail address (the recipient)",
    "SupportEmail": "your support address (the tenant's, else the From address)",
}

#: Placeholder → what it holds, per kind.
PLACEHOLDERS: dict[MailKind, dict[str, str]] = {
    **{kind: {**_LICENSE_FIELDS, **_COMMON} for kind in LICENSE_KINDS},
    MailKind.YOUR_KEYS: {
        **_COMMON,
        "Licenses": "the customer's licenses; each has the one-license placeholders "
        "({{ item.ActivationKey }}, {{ item.ProductName }}, …)",
    },
    MailKind.PORTAL_SIGN_IN: {
        **_COMMON,
        "SignInLink": "the single-use sign-in link",
        "LinkMinutes": "minutes the link stays valid",
        "PortalName": "the portal's display name",
    },
}

_SAMPLE_LICENSE: dict[str, Any] = {
    "ActivationKey": "ABCD-EFGH-JKLM-NPQR",
    "ProductName": "Sample Product",
    "ExpirationDate": "2031-01-31",
    "IsPerpetual": False,
    "DaysLeft": 7,
    "Features": "Export, Cloud",
    "FeatureList": ["Export", "Cloud"],
    "Seats": "3",
}


def sample_context(kind: MailKind) -> dict[str, Any]:
    """Values for a trial render (when a template is saved) and the dashboard's preview."""
    common = {"CustomerEmail": "customer@example.com", "SupportEmail": "support@example.com"}
    if kind is MailKind.YOUR_KEYS:
        second = {**_SAMPLE_LICENSE, "ActivationKey": "STUV-WXYZ-2345-6789", "FeatureList": []}
        second.update(Features="", IsPerpetual=True, ExpirationDate="never", DaysLeft=0)
        return {**common, "Licenses": [dict(_SAMPLE_LICENSE), second]}
    if kind is MailKind.PORTAL_SIGN_IN:
        return {
            **common,
            "SignInLink": "https://licenses.example.com/portal/acme/link?token=sample",
            "LinkMinutes": 15,
            "PortalName": "Acme Software",
        }
    return {**common, **_SAMPLE_LICENSE, "FeatureList": list(_SAMPLE_LICENSE["FeatureList"])}
