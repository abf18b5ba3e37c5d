"""A minimal shop: one product page, a Buy button that opens Stripe Checkout, a thank-you page.

The license server does the rest: it creates the Checkout session with your Stripe app
(``POST /api/stripe/checkout/session``), receives Stripe's ``checkout.session.completed`` at
``/api/stripe/webhook``, makes the key and e-mails it to the customer. This program never sees a
Stripe key or a license key.

    EXISONE_BASEURL=https://licensing.example.com EXISONE_TOKEN=exo_at_... \\
        python shop.py --product-id 123 --shop-url https://shop.example.com --port 8080

Only the standard library and httpx (which the ``exisone`` SDK brings).
"""

from __future__ import annotations

import argparse
import html
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 3rem auto">
{body}
</body></html>"""


class Shop:
    """What the pages need: the license server's API and the product on sale."""

    def __init__(self, base_url: str, token: str, product_id: int, shop_url: str) -> None:
        self.api = httpx.Client(
            base_url=base_url, headers={"Authorization": f"ExisOneApi {token}"}, timeout=30
        )
        self.product_id = product_id
        self.shop_url = shop_url.rstrip("/")

    def product(self) -> dict[str, Any]:
        answer = self.api.get(f"/api/product/{self.product_id}")
        answer.raise_for_status()
        product: dict[str, Any] = answer.json()
        return product

    def checkout_url(self, quantity: int) -> str:
        """A Stripe Checkout session for ``quantity`` of the product; where to send the buyer."""
        answer = self.api.post(
            "/api/stripe/checkout/session",
            json={
                "productId": self.product_id,
                "quantity": quantity,
                "successUrl": f"{self.shop_url}/thanks",
                "cancelUrl": f"{self.shop_url}/",
            },
        )
        answer.raise_for_status()
        return str(answer.json()["url"])


def handler(shop: Shop) -> type[BaseHTTPRequestHandler]:
    class Pages(BaseHTTPRequestHandler):
        def _page(self, status: int, title: str, body: str) -> None:
            data = PAGE.format(title=html.escape(title), body=body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/thanks":
                self._page(
                    200, "Thank you", "<h1>Thank you!</h1><p>Your key is on its way by e-mail.</p>"
                )
                return
            product = shop.product()
            name = html.escape(product["name"])
            self._page(
                200,
                name,
                f"<h1>{name}</h1><p>{html.escape(product.get('description') or '')}</p>"
                f"<p>Price: {html.escape(str(product.get('price')))}</p>"
                '<form method="post" action="/buy"><label>Licenses '
                '<input name="quantity" type="number" min="1" value="1"></label> '
                '<button type="submit">Buy</button></form>',
            )

        def do_POST(self) -> None:
            if self.path != "/buy":
                self._page(404, "Not found", "<p>Not found.</p>")
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            try:
                quantity = max(1, int(form.get("quantity", ["1"])[0]))
            except ValueError:
                quantity = 1
            try:
                url = shop.checkout_url(quantity)
            except httpx.HTTPError as exc:
                self._page(
                    502, "Sorry", f"<p>The checkout could not start ({html.escape(str(exc))}).</p>"
                )
                return
            self.send_response(303)
            self.send_header("Location", url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return

    return Pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("EXISONE_BASEURL", ""))
    parser.add_argument("--token", default=os.environ.get("EXISONE_TOKEN", ""))
    parser.add_argument("--product-id", type=int, required=True)
    parser.add_argument("--shop-url", default="http://127.0.0.1:8080", help="This shop's own URL.")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    if not args.base_url or not args.token:
        parser.error("set EXISONE_BASEURL and EXISONE_TOKEN (or --base-url and --token)")
    shop = Shop(args.base_url, args.token, args.product_id, args.shop_url)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(shop))
    print(f"shop on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
