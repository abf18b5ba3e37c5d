"""Bulk license import (``exisone-server license import``): rows, devices, atomicity, errors."""

from __future__ import annotations

import io
import uuid

import pytest
from click.testing import CliRunner

from exisone_server.cli import main
from exisone_server.config import Settings
from exisone_server.licenses.importer import (
    LicenseImportError,
    import_licenses,
    read_license_csv,
)

from .seeding import Seed


def _keys(count: int) -> list[str]:
    """Keys unique across the session's database (keys are unique across tenants)."""
    prefix = uuid.uuid4().hex[:8].upper()
    return [f"IMP-{prefix}-{index:04d}" for index in range(count)]


def _csv(*lines: str) -> io.StringIO:
    return io.StringIO("\n".join(lines) + "\n")


async def test_imported_licenses_validate_like_created_ones(seed: Seed, settings: Settings) -> None:
    product = await seed.product()
    single, corporate, expired, spare = _keys(4)
    data = _csv(
        "activationKey,email,expirationDate,maxSeats,hardwareIds,ignored",
        f"{single.lower()},a@example.com,2099-01-31,,hw-one,x",
        f"{corporate},b@example.com,,2,HW-A;hw-b;HW-A,",
        f"{expired},,2020-01-01T00:00:00Z,,hw-old,",
        "",
        f"{spare},,,,,",
    )

    summary = import_licenses(settings, str(seed.tenant.id), product.name, read_license_csv(data))

    assert (summary.licenses, summary.activations) == (4, 4)
    answers = {}
    for key, hardware_id in [
        (single, "HW-ONE"),
        (corporate, "hw-a"),
        (corporate, "HW-B"),
        (expired, "hw-old"),
        (spare, "hw-new"),
    ]:
        response = await seed.api.post(
            "/api/license/validate", {"activationKey": key, "hardwareId": hardware_id}
        )
        assert response.status_code == 200, response.text
        answers[(key, hardware_id)] = response.json()
    assert answers[(single, "HW-ONE")]["status"] == "licensed"
    assert answers[(single, "HW-ONE")]["expirationDate"] == "2099-01-31T00:00:00Z"
    assert answers[(corporate, "hw-a")]["expirationDate"] == "2049-12-31T23:59:59Z"
    assert answers[(corporate, "HW-B")]["isValid"] is True
    assert answers[(expired, "hw-old")]["status"] == "expired"
    assert answers[(spare, "hw-new")]["reason"] == "not_activated"
    usage = await seed.api.get(f"/api/license/{corporate}/usage")
    assert usage.json()["currentSeats"] == 2 and usage.json()["maxSeats"] == 2
    # An imported key can take a new device like any other.
    activated = await seed.api.post(
        "/api/license/activate",
        {"activationKey": spare, "hardwareId": "hw-new", "productName": product.name},
    )
    assert activated.status_code == 200, activated.text


async def test_an_existing_key_rolls_back_the_whole_import(seed: Seed, settings: Settings) -> None:
    product = await seed.product()
    existing = await seed.license(product)
    fresh = _keys(1)[0]
    data = _csv("activationKey,hardwareIds", f"{fresh},hw-1", existing.activation_key)

    with pytest.raises(LicenseImportError, match="already exists"):
        import_licenses(settings, seed.tenant.name, product.name, read_license_csv(data))

    response = await seed.api.post(
        "/api/license/validate", {"activationKey": fresh, "hardwareId": "hw-1"}
    )
    assert response.json()["reason"] == "license_not_found"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (("email", "a@example.com"), "no activationKey column"),
        (("activationKey,maxSeats", "K1,0"), "line 2: maxSeats must be at least 1"),
        (("activationKey,maxSeats", "K1,many"), "line 2: maxSeats 'many' is not a number"),
        (("activationKey,hardwareIds", "K1,a;b"), "line 2: 2 hardware IDs but 1 seat"),
        (("activationKey,expirationDate", "K1,soon"), "line 2: expirationDate 'soon'"),
        (("activationKey", "K1", "has space"), "line 3: activationKey must be"),
    ],
)
def test_bad_rows_name_their_line(lines: tuple[str, ...], message: str) -> None:
    with pytest.raises(LicenseImportError, match=message):
        list(read_license_csv(_csv(*lines)))


async def test_cli_imports_and_refuses_unknown_products(seed: Seed, settings: Settings) -> None:
    product = await seed.product()
    key = _keys(1)[0]
    runner = CliRunner()
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url]
    args = ["license", "import", "--tenant", str(seed.tenant.id), "--json"]

    done = runner.invoke(
        main, [*base, *args, "--product", product.name, "-"], input=f"activationKey\n{key}\n"
    )
    missing = runner.invoke(
        main, [*base, *args, "--product", "NoSuchProduct", "-"], input="activationKey\nK9\n"
    )

    assert done.exit_code == 0, done.output
    assert '"licenses": 1' in done.stdout
    assert missing.exit_code == 1
    assert "no product 'NoSuchProduct'" in missing.output
