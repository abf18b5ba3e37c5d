"""Publisher automation: a product, a plan and a batch of keys through the API, a CSV, a webhook.

    python publish.py --base-url https://licensing.example.com --token exo_at_... \\
        --product "Acme Report" --plan "Acme Report Pro" --features Export,Pro \\
        --count 1000 --csv keys.csv --webhook-url https://shop.example.com/exisone-hook

Needs a token with the ``admin`` permission (products, plans and webhooks are changes). Safe to
run again: an existing product or plan of the same name is reused (and the plan updated); every
run generates ``--count`` new keys. The webhook's signing secret is printed once, on stderr.
Only ``exisone`` is needed (``pip install exisone``): it brings httpx, used here for the
publisher endpoints the SDK has no method for.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from exisone import AsyncExisOneClient, GeneratedActivationKey

CSV_COLUMNS = ["activationKey", "email", "product", "planId", "isCorporate", "maxSeats", "expires"]
PARALLEL_REQUESTS = 8


def api(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"ExisOneApi {token}"}, timeout=30
    )


def answer(response: httpx.Response) -> Any:
    """The JSON of a 2xx answer; otherwise stop with the server's error code and message."""
    if response.is_success:
        return response.json() if response.content else None
    try:
        body = response.json()
        detail = f"{body['error']}: {body['message']}"
    except (ValueError, KeyError, TypeError):
        detail = response.text[:200]
    raise SystemExit(f"error: {response.request.method} {response.request.url.path} -> {detail}")


def ensure_product(http: httpx.Client, name: str, version: str) -> dict[str, Any]:
    for product in answer(http.get("/api/product")):
        if product["name"] == name:
            return dict(product)
    created = answer(http.post("/api/product", json={"name": name, "version": version}))
    print(f"created product {name!r} (id {created['id']})")
    return dict(created)


def ensure_plan(
    http: httpx.Client, product_id: int, name: str, features: list[str], seats: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": None,
        "name": name,
        "productId": product_id,
        "durationDays": 365,
        "isActive": True,
        "features": features,
        "isCorporate": seats is not None,
        "maxSeats": seats,
    }
    for plan in answer(http.get("/api/plan", params={"productId": product_id})):
        if plan["name"] == name:
            body["id"] = plan["id"]
    plan = answer(http.post("/api/plan", json=body))
    print(f"{'updated' if body['id'] else 'created'} plan {name!r} (id {plan['id']})")
    return dict(plan)


async def generate_keys(
    base_url: str, token: str, product: str, plan_id: int, email: str, count: int
) -> list[GeneratedActivationKey]:
    """``count`` keys, ``PARALLEL_REQUESTS`` at a time (generation is never retried by the SDK)."""
    limit = asyncio.Semaphore(PARALLEL_REQUESTS)
    async with AsyncExisOneClient(base_url=base_url, access_token=token) as client:

        async def one() -> GeneratedActivationKey:
            async with limit:
                return await client.generate_activation_key_details(product, email, plan_id=plan_id)

        return list(await asyncio.gather(*(one() for _ in range(count))))


def write_csv(
    path: Path, keys: list[GeneratedActivationKey], email: str, product: str, plan_id: int
) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for key in keys:
            expires = (
                key.expiration_date.strftime("%Y-%m-%dT%H:%M:%SZ") if key.expiration_date else ""
            )
            seats = "" if key.max_seats is None else key.max_seats
            writer.writerow(
                [key.activation_key, email, product, plan_id, key.is_corporate, seats, expires]
            )


def register_webhook(http: httpx.Client, url: str, events: list[str]) -> dict[str, Any]:
    for endpoint in answer(http.get("/api/webhook")):
        if endpoint["url"] == url:
            print(f"webhook {url} already registered (id {endpoint['id']})")
            return dict(endpoint)
    body: dict[str, Any] = {"url": url, "description": "publish.py"}
    if events:
        body["events"] = events
    created = answer(http.post("/api/webhook", json=body))
    print(f"registered webhook {url} (id {created['id']})")
    print(
        f"webhook signing secret (shown once, store it now): {created['secret']}", file=sys.stderr
    )
    return dict(created)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("EXISONE_BASEURL"), required=False)
    parser.add_argument("--token", default=os.environ.get("EXISONE_TOKEN"), required=False)
    parser.add_argument("--product", default="Acme Report")
    parser.add_argument("--product-version", default="1.0.0")
    parser.add_argument("--plan", default="Acme Report Pro")
    parser.add_argument("--features", default="Export,Pro", help="comma separated")
    parser.add_argument("--seats", type=int, help="make corporate keys with this many seats")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--email", default="sales@example.com", help="buyer e-mail of the keys")
    parser.add_argument("--csv", type=Path, default=Path("keys.csv"))
    parser.add_argument("--webhook-url", help="HTTPS URL to receive license events")
    parser.add_argument("--webhook-event", action="append", default=[], help="repeatable; all")
    args = parser.parse_args(argv)
    if not args.base_url or not args.token:
        parser.error("--base-url and --token (or EXISONE_BASEURL and EXISONE_TOKEN) are required")
    if args.count < 0:
        parser.error("--count must be 0 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    features = [name.strip() for name in args.features.split(",") if name.strip()]
    with api(args.base_url, args.token) as http:
        product = ensure_product(http, args.product, args.product_version)
        plan = ensure_plan(http, product["id"], args.plan, features, args.seats)
        keys = asyncio.run(
            generate_keys(
                args.base_url, args.token, args.product, plan["id"], args.email, args.count
            )
        )
        write_csv(args.csv, keys, args.email, args.product, plan["id"])
        print(f"generated {len(keys)} keys into {args.csv}")
        if args.webhook_url:
            register_webhook(http, args.webhook_url, args.webhook_event)
    return 0


if __name__ == "__main__":
    sys.exit(main())
