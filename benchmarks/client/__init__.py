"""The client group: our SDK against a raw RSA verify and against the official SDK 0.10.0."""

from __future__ import annotations

from benchmarks.client.cases import run_client_group
from benchmarks.registry import register

__all__ = ["run_client_group"]

register("client", "client SDK speed targets, ours vs official exisone-client 0.10.0")(
    run_client_group
)
