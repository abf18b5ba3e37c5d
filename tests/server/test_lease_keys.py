"""Which key signs lease tokens: a tenant's Ed25519 key when it has one, else its RSA key; the
switch either way; and the client checking the tokens with the keys it is given."""

from __future__ import annotations

import httpx
import pytest

from exisone import AnswerSignatureError, AsyncExisOneClient
from exisone.protocol import key_id, load_trusted_keys, verify_lease_token
from exisone_server.crypto.service import list_crypto_keys, sign_lease_tokens_with
from exisone_server.models import KeyAlgorithm

from .seeding import Seed

LEASE = "/api/license/lease"


async def _checkout(seed: Seed, hardware_id: str = "HW-1") -> dict[str, str]:
    product = await seed.product(f"App {hardware_id}", version="2.0")
    plan = await seed.floating_plan(name=f"Floating {hardware_id}")
    license = await seed.license(product, plan=plan, is_corporate=True, max_seats=3)
    answer = await seed.api.post(
        LEASE,
        {
            "activationKey": license.activation_key,
            "hardwareId": hardware_id,
            "productName": product.name,
        },
    )
    assert answer.status_code == 200, answer.text
    return {
        "token": answer.json()["leaseToken"],
        "key": license.activation_key,
        "product": product.name,
    }


async def _keys(seed: Seed) -> dict[KeyAlgorithm, str]:
    """The tenant's current public keys, by algorithm."""
    async with seed.database.read_session() as session:
        keys = await list_crypto_keys(session, seed.tenant.id)
    return {key.algorithm: key.public_key_pem for key in keys if key.is_current}


async def test_a_new_tenant_signs_lease_tokens_with_its_ed25519_key(seed: Seed) -> None:
    keys = await _keys(seed)
    assert set(keys) == {KeyAlgorithm.RSA, KeyAlgorithm.ED25519}
    token = (await _checkout(seed))["token"]

    lease_only = load_trusted_keys(keys[KeyAlgorithm.ED25519]).lease_keys
    claims = verify_lease_token(token, lease_only)
    assert claims.key_id == key_id(lease_only[0])
    with pytest.raises(Exception, match="Invalid or tampered"):
        verify_lease_token(token, load_trusted_keys(keys[KeyAlgorithm.RSA]).lease_keys)
    listing = (await seed.api.get("/api/crypto/keys")).json()
    assert sorted(key["algorithm"] for key in listing) == ["ed25519", "rsa"]
    # the protocol's endpoint for offline codes still gives the RSA key
    assert (await seed.api.get("/api/crypto/keys/public")).text == keys[KeyAlgorithm.RSA]


async def test_the_switch_to_rsa_and_back(seed: Seed) -> None:
    first_ed25519 = (await _keys(seed))[KeyAlgorithm.ED25519]
    async with seed.database.write() as session:
        assert (
            await sign_lease_tokens_with(session, seed.tenant.id, seed.master_key, KeyAlgorithm.RSA)
            is None
        )
    keys = await _keys(seed)
    assert set(keys) == {KeyAlgorithm.RSA}
    token = (await _checkout(seed, "HW-R"))["token"]
    assert verify_lease_token(token, load_trusted_keys(keys[KeyAlgorithm.RSA]).rsa_keys)

    async with seed.database.write() as session:
        made = await sign_lease_tokens_with(
            session, seed.tenant.id, seed.master_key, KeyAlgorithm.ED25519
        )
    assert made is not None and made.public_key_pem != first_ed25519  # a new key each time
    token = (await _checkout(seed, "HW-E"))["token"]
    assert verify_lease_token(token, load_trusted_keys(made.public_key_pem).lease_keys)
    listing = (await seed.api.get("/api/crypto/keys")).json()
    assert [k["isCurrent"] for k in listing if k["algorithm"] == "ed25519"] == [True, False]


async def test_the_client_checks_ed25519_tokens_with_the_keys_it_is_given(
    seed: Seed, app: object
) -> None:
    keys = await _keys(seed)
    both = keys[KeyAlgorithm.RSA] + keys[KeyAlgorithm.ED25519]  # one text, two PEM blocks
    product = await seed.product(version="2.0")
    plan = await seed.floating_plan()
    license = await seed.license(product, plan=plan, is_corporate=True, max_seats=3)

    async def lease(offline_public_key: str) -> str:
        async with AsyncExisOneClient(  # noqa: SIM117 - the lease needs the client open
            base_url="http://127.0.0.1",
            access_token=seed.api.token,
            offline_public_key=offline_public_key,
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        ) as client:
            async with client.lease(
                license.activation_key, "HW-C", product.name, handle_sigterm=False
            ) as held:
                assert held.active
                await held.heartbeat()
                token = held.token
                assert token is not None
                return token

    token = await lease(both)
    assert verify_lease_token(token, load_trusted_keys(both).lease_keys).key_index == 1
    await lease(keys[KeyAlgorithm.ED25519])  # the lease key alone is enough for leases
    with pytest.raises(AnswerSignatureError, match="lease token does not verify"):
        await lease(keys[KeyAlgorithm.RSA])  # a client that lacks the Ed25519 key refuses


async def test_the_next_heartbeat_after_a_switch_signs_with_the_new_key(seed: Seed) -> None:
    """A process keeps the keys it read, but the batch's own read says which one signs: the
    heartbeats right after each switch are signed with the new key."""
    checked_out = await _checkout(seed)
    lease_id = verify_lease_token(
        checked_out["token"],
        load_trusted_keys((await _keys(seed))[KeyAlgorithm.ED25519]).lease_keys,
    ).lease_id

    async def heartbeat_token() -> str:
        answer = await seed.api.post(f"{LEASE}/heartbeat", {"leaseId": lease_id})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["leaseToken"])

    async def switch(algorithm: KeyAlgorithm) -> None:
        async with seed.database.write() as session:
            await sign_lease_tokens_with(session, seed.tenant.id, seed.master_key, algorithm)

    await heartbeat_token()  # the Ed25519 key is now kept by this process
    await switch(KeyAlgorithm.RSA)
    rsa = load_trusted_keys((await _keys(seed))[KeyAlgorithm.RSA])
    assert verify_lease_token(await heartbeat_token(), rsa.rsa_keys).lease_id == lease_id

    await switch(KeyAlgorithm.ED25519)
    fresh = load_trusted_keys((await _keys(seed))[KeyAlgorithm.ED25519]).lease_keys
    claims = verify_lease_token(await heartbeat_token(), fresh)
    assert claims.key_id == key_id(fresh[0])
