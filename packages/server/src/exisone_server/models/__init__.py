"""All tables. Import models from here; ``Model.metadata`` is the full schema."""

from .access_token import AccessToken
from .activation import Activation
from .api_quota import ApiQuota, ApiUsageDay
from .audit_event import AuditEvent
from .base import Model, UTCDateTime, table_of
from .crypto_key import CryptoKey, KeyAlgorithm
from .dashboard_user import DashboardSession, DashboardUser
from .lease import Lease
from .license import License, LicenseStatus, license_features
from .license_history import HistoryAction, LicenseHistory
from .mail import MailMessage, MailStatus, MailTemplate, TenantMailSettings
from .payment import (
    PaymentApp,
    PaymentEventStatus,
    PaymentMapping,
    PaymentOrder,
    PaymentProduct,
    ReceivedPaymentEvent,
    payment_order_licenses,
)
from .plan import Feature, Plan, plan_features
from .portal import PortalLink, PortalSession, PortalSettings
from .product import Product
from .rate_limit import RateLimitCounter
from .support_ticket import SupportTicket
from .tenant import Tenant
from .trial import Trial
from .validation_analytics import ValidationAnalytics
from .validation_count import ValidationCount
from .webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "AccessToken",
    "Activation",
    "ApiQuota",
    "ApiUsageDay",
    "AuditEvent",
    "CryptoKey",
    "DashboardSession",
    "DashboardUser",
    "DeliveryStatus",
    "Feature",
    "HistoryAction",
    "KeyAlgorithm",
    "Lease",
    "License",
    "LicenseHistory",
    "LicenseStatus",
    "MailMessage",
    "MailStatus",
    "MailTemplate",
    "Model",
    "PaymentApp",
    "PaymentEventStatus",
    "PaymentMapping",
    "PaymentOrder",
    "PaymentProduct",
    "Plan",
    "PortalLink",
    "PortalSession",
    "PortalSettings",
    "Product",
    "RateLimitCounter",
    "ReceivedPaymentEvent",
    "SupportTicket",
    "Tenant",
    "TenantMailSettings",
    "Trial",
    "UTCDateTime",
    "ValidationAnalytics",
    "ValidationCount",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "license_features",
    "payment_order_licenses",
    "plan_features",
    "table_of",
]
