"""Run Debian's ``wrk`` against a URL with a Lua script and read its report."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WrkResult", "missing_tools", "parse_wrk", "run_wrk"]

SETUP_HINT = "run benchmarks/server/setup.sh (apt-get install -y wrk nginx)"

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
# Anchored to the line start: wrk's stdev column also ends in "%".
_PERCENTILE = re.compile(r"^\s+(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_TOTAL = re.compile(r"^\s+(\d+) requests in", re.M)
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)", re.M)


def missing_tools() -> list[str]:
    """The benchmark's system tools that are not on PATH."""
    return [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (seconds), errors."""

    requests_per_s: float
    requests: int
    p50: float
    p90: float
    p99: float
    socket_errors: int
    non_2xx: int

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx


def parse_wrk(output: str) -> WrkResult:
    """Read ``wrk --latency`` output (ValueError when a figure is missing)."""
    rate = _RATE.search(output)
    total = _TOTAL.search(output)
    if rate is None or total is None:
        raise ValueError(f"no Requests/sec in wrk output: {output[-400:]!r}")
    percentiles = {
        name: float(value) * _UNITS[unit] for name, value, unit in _PERCENTILE.findall(output)
    }
    if not {"50", "90", "99"} <= set(percentiles):
        raise ValueError(f"no latency distribution in wrk output (--latency?): {output[-400:]!r}")
    socket = _SOCKET.search(output)
    non_2xx = _NON_2XX.search(output)
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        requests=int(total.group(1)),
        p50=percentiles["50"],
        p90=percentiles["90"],
        p99=percentiles["99"],
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def run_wrk(
    url: str, script: Path, seconds: float, *, connections: int = 64, threads: int = 1
) -> WrkResult:
    """``wrk -t threads -c connections -d seconds --latency -s script url``."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return parse_wrk(done.stdout)
