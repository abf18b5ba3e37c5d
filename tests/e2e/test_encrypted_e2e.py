"""Encrypted validation end to end: our clients (sync and async) seal validate requests for
the demo tenant's key and open the real server's sealed answers over HTTPS."""

from __future__ import annotations

from collections.abc import Callable

from exisone import AsyncExisOneClient, ExisOneClient

from .conftest import Demo


def test_sealed_answers_match_the_plain_ones(
    ours: ExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device = hardware_id()
    key, product = demo.single_key, demo.product_name
    assert ours.activate(key, "a@b.c", device, product).success

    sealed = ours.validate_encrypted(key, device, product, demo.product_version)
    plain = ours.validate(key, device, product, demo.product_version)

    assert sealed == plain
    assert sealed.is_valid and sealed.status == "licensed" and sealed.features == demo.features
    refused = ours.validate_encrypted("ZZZZ-ZZZZ-ZZZZ-ZZZZ", device, product)
    assert (refused.is_valid, refused.status) == (False, "invalid")


async def test_the_async_client_validates_a_trial(
    ours_async: AsyncExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    result = await ours_async.validate_encrypted("", hardware_id(), demo.product_name)
    assert (result.status, result.remaining_days) == ("trial", demo.trial_days)
