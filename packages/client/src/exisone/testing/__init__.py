"""Test kit for applications that use exisone: every license state without a network.

* :class:`FakeExisOneServer`: an httpx transport (sync and async) serving the client endpoints
  from memory: products (versions, trials), licenses (expiry, revocation, seats, floating
  seats and their leases), signed answers.
* :class:`KeyPair` and :func:`issue_offline_code`: a publisher key and offline codes made with it.
* :class:`FakeClock`: the time of the client (``clock=``) and of the fake server.

See docs/testing.md. Importing this module loads httpx and cryptography.
"""

from ._clock import FakeClock
from ._keys import KeyPair, issue_offline_code
from ._server import FakeExisOneServer, FakeLease, FakeLicense, FakeProduct

__all__ = [
    "FakeClock",
    "FakeExisOneServer",
    "FakeLease",
    "FakeLicense",
    "FakeProduct",
    "KeyPair",
    "issue_offline_code",
]
