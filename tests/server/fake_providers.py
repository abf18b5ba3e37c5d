"""Local stand-ins for the payment providers, for the payment tests: a real HTTPS server (a
thread, a trustme certificate for 127.0.0.1) answering the few API calls the server makes, and
the providers' signing schemes (Stripe's with Stripe's own library).

* Stripe: ``POST /v1/checkout/sessions`` (records the form, answers a session).
* Paddle: ``GET /customers/{id}`` (the customer's address, bearer ``PADDLE_API_KEY``).
* PayPal: ``POST /v1/oauth2/token`` (client credentials), ``GET /v2/checkout/orders/{id}``,
  and ``GET /v1/notifications/certs/test`` (the signing certificate, PEM).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import stripe
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

PADDLE_API_KEY = "pdl_apikey_test_0123456789"
PAYPAL_CLIENT_ID = "paypal-client-id"
PAYPAL_SECRET = "paypal-client-secret"
PAYPAL_WEBHOOK_ID = "8PT597110X687430LKGECATA"


def stripe_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """``Stripe-Signature`` made by Stripe's own library."""
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def paddle_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """``Paddle-Signature`` by Paddle's documented scheme."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"Paddle-Signature": f"ts={ts};h1={digest}", "Content-Type": "application/json"}


def lemonsqueezy_headers(body: bytes, secret: str) -> dict[str, str]:
    """``X-Signature`` by Lemon Squeezy's documented scheme."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature": digest, "Content-Type": "application/json", "X-Event-Name": "x"}


def _certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts")])
    now = datetime.now(timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


@dataclass
class FakeProviders:
    """The running server and what it saw."""

    ca_file: Path
    port: int = 0
    customers: dict[str, str] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)
    checkout_forms: list[dict[str, str]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    paypal_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def cert_url(self) -> str:
        return f"{self.base_url}/v1/notifications/certs/test"

    def env(self) -> dict[str, str]:
        """The server settings that send its provider calls here."""
        return {
            "EXISONE_STRIPE_API_BASE": self.base_url,
            "EXISONE_PADDLE_API_BASE": self.base_url,
            "EXISONE_PAYPAL_API_BASE": self.base_url,
            "EXISONE_PAYPAL_CERT_HOSTS": self.host,
            "EXISONE_PAYMENTS_CA_FILE": str(self.ca_file),
        }

    def paypal_headers(
        self,
        body: bytes,
        webhook_id: str = PAYPAL_WEBHOOK_ID,
        *,
        sent_at: datetime | None = None,
        cert_url: str | None = None,
    ) -> dict[str, str]:
        """PayPal's signature headers by its documented scheme, with this server's key."""
        transmission_id = str(uuid.uuid4())
        moment = (sent_at or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = f"{transmission_id}|{moment}|{webhook_id}|{zlib.crc32(body)}"
        signature = self.paypal_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        return {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": moment,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
            "PAYPAL-CERT-URL": cert_url or self.cert_url,
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "Content-Type": "application/json",
        }


def _handler(fake: FakeProviders) -> type[BaseHTTPRequestHandler]:
    certificate = _certificate(fake.paypal_key).public_bytes(serialization.Encoding.PEM)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            return

        def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _bearer(self) -> str:
            return self.headers.get("Authorization", "").removeprefix("Bearer ")

        def do_GET(self) -> None:
            fake.calls.append(f"GET {self.path}")
            if self.path == "/v1/notifications/certs/test":
                self._answer(200, certificate, "application/x-pem-file")
            elif self.path.startswith("/customers/") and self._bearer() == PADDLE_API_KEY:
                email = fake.customers.get(self.path.rsplit("/", 1)[-1])
                self._answer(200, {"data": {"email": email}} if email else {}, "application/json")
            elif self.path.startswith("/v2/checkout/orders/") and self._bearer() == "A21-token":
                email = fake.orders.get(self.path.rsplit("/", 1)[-1])
                self._answer(200 if email else 404, {"payer": {"email_address": email}})
            else:
                self._answer(401, {"error": "unauthorized"})

        def do_POST(self) -> None:
            fake.calls.append(f"POST {self.path}")
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if self.path == "/v1/checkout/sessions":
                if not self._bearer().startswith("sk_test_"):
                    self._answer(401, {"error": {"message": "Invalid API Key provided"}})
                    return
                fake.checkout_forms.append(form)
                session = f"cs_test_{uuid.uuid4().hex[:16]}"
                self._answer(
                    200, {"id": session, "url": f"https://checkout.stripe.test/pay/{session}"}
                )
            elif self.path == "/v1/oauth2/token":
                expected = base64.b64encode(f"{PAYPAL_CLIENT_ID}:{PAYPAL_SECRET}".encode())
                ok = self.headers.get("Authorization") == f"Basic {expected.decode()}"
                self._answer(200 if ok else 401, {"access_token": "A21-token"} if ok else {})
            else:
                self._answer(404, {})

    return Handler


@contextmanager
def running_fake_providers(folder: Path) -> Iterator[FakeProviders]:
    ca = trustme.CA()
    ca_file = folder / "providers-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    fake = FakeProviders(ca_file=ca_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
