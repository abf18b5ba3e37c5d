"""A country database in the MaxMind DB format for the analytics runs (made with mmdb-writer,
a development dependency; the server ships none)."""

from __future__ import annotations

import random
from pathlib import Path

__all__ = ["write_country_database"]

#: Country codes the made-up networks are spread over.
_COUNTRIES = ("DE", "FR", "JP", "US", "BR", "IN", "NG", "AU", "CA", "SE")


def write_country_database(path: Path, networks: int = 20_000) -> Path:
    """A GeoLite2-Country-shaped database of ``networks`` random /24 networks plus loopback
    (where wrk's requests come from), so that every lookup of a run finds a country."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-Country", ipv4_compatible=True)
    chance = random.Random(20_261_201)
    by_country: dict[str, list[str]] = {code: [] for code in _COUNTRIES}
    for _ in range(networks):
        network = f"{chance.randrange(1, 224)}.{chance.randrange(256)}.{chance.randrange(256)}.0/24"
        if not network.startswith("127."):
            by_country[chance.choice(_COUNTRIES)].append(network)
    by_country["DE"].append("127.0.0.0/8")
    for code, listed in by_country.items():
        writer.insert_network(IPSet(listed), {"country": {"iso_code": code}})
    writer.to_db_file(str(path))
    return path
