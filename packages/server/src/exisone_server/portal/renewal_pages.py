"""Renewing a license through Stripe from the portal: a page that says what the payment adds,
and its form, which makes a Checkout session for the license and sends the customer to it.

The session's ``renewLicenseId`` metadata makes the payment renew this license (the payments
package's renewal rule), not make a new one. A license that is not the customer's, cannot be
renewed, or has no Stripe renewal (:func:`..payments.renewal.renewal_offer`) is answered 404.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from ..deps import DatabaseDep, MasterKeyDep
from ..errors import NotFound
from ..kit.time import utc_now
from ..payments.checkout import StripeError
from ..payments.renewal import RenewalOffer, renewal_checkout, renewal_offer
from ..payments.settings import PaymentSettings
from ..security.headers import PORTAL_CSP
from .licenses import customer_license, license_view
from .web import page, portal_of, posted, require_customer

__all__ = ["renew", "renew_page"]

#: The page's policy: its form may lead on to the provider's checkout (an HTTPS address that
#: Stripe names in its answer); everything else as on every portal page.
RENEW_CSP = PORTAL_CSP.replace("form-action 'self'", "form-action 'self' https:")


def _stripe_offer(offer: RenewalOffer | None) -> RenewalOffer:
    if offer is None or offer.provider != "stripe":
        raise NotFound("renewal_not_offered", "This license cannot be renewed here.")
    return offer


@get("/{slug:str}/licenses/{license_id:int}/renew")
async def renew_page(
    slug: FromPath[str],
    license_id: FromPath[int],
    request: Request[Any, Any, Any],
    database: DatabaseDep,
) -> Response[str]:
    """What renewing adds, and the button that goes on to Stripe's checkout."""
    portal = await portal_of(database, slug)
    customer = await require_customer(request, database, portal)
    async with database.read_session() as session:
        license = await customer_license(session, customer, license_id)
        offer = _stripe_offer(await renewal_offer(session, license))
        view = await license_view(session, license, utc_now(), portal.base, with_devices=False)
    answer = await page(database, portal, customer, "renew.html", {"license": view, "offer": offer})
    answer.headers["Content-Security-Policy"] = RENEW_CSP
    return answer


@post("/{slug:str}/licenses/{license_id:int}/renew", status_code=303)
async def renew(
    slug: FromPath[str],
    license_id: FromPath[int],
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    master_key: MasterKeyDep,
) -> Redirect:
    """Make the license's Checkout session and send the customer there (303)."""
    form = await posted(request, database, slug)
    back = f"{form.portal.url}/licenses/{license_id}"
    async with database.read_session() as session:
        license = await customer_license(session, form.customer, license_id)
        created = await renewal_checkout(
            session,
            license,
            master_key,
            PaymentSettings.from_env(),
            success_url=f"{back}?renewed=1",
            cancel_url=back,
        )
    if not created["url"].startswith("https://"):
        raise StripeError("Stripe's answer named no checkout address.")
    return Redirect(created["url"], status_code=303)
