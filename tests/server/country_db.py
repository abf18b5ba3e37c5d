"""Small MaxMind-format country databases for the tests, made with mmdb-writer."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

#: Networks of the tests' database: documentation ranges and loopback.
COUNTRIES = {
    "203.0.113.0/24": "DE",
    "198.51.100.0/24": "JP",
    "192.0.2.0/25": "BR",
    "127.0.0.0/8": "SE",
    "2001:db8::/32": "FR",
}


def write_country_database(path: Path, networks: Mapping[str, str] = COUNTRIES) -> Path:
    """A GeoLite2-Country-shaped database: each network → ``{"country": {"iso_code": ...}}``."""
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-Country", ipv4_compatible=True)
    for network, code in networks.items():
        writer.insert_network(IPSet([network]), {"country": {"iso_code": code}})
    writer.to_db_file(str(path))
    return path
