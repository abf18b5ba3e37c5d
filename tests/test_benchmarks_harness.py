"""The benchmark harness's pure parts: statistics, verdicts, formatting, the docs-table updater.

No timings are asserted here; the benchmarks themselves run with ``python -m benchmarks``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from benchmarks.client.cases import importtime_cumulative, worker_environment
from benchmarks.client.server import ServerUnavailable, demo_tenant
from benchmarks.docs_table import begin_marker, end_marker, replace_block, update_file
from benchmarks.report import format_duration, format_ratio, markdown_block, text_table
from benchmarks.results import (
    CaseResult,
    RunResult,
    Status,
    Target,
    error_case,
    evaluate,
    write_json,
)
from benchmarks.stats import interleaved_rounds, median, paired_differences, ratio, rotation


def test_median_of_odd_and_even_counts() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_median_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        median([])


def test_ratio_and_its_zero_denominator() -> None:
    assert ratio(3.0, 2.0) == 1.5
    with pytest.raises(ValueError, match="non-positive"):
        ratio(1.0, 0.0)


def test_paired_differences_go_round_by_round() -> None:
    assert paired_differences([5.0, 7.0], [1.0, 2.0]) == [4.0, 5.0]
    with pytest.raises(ValueError, match="same number"):
        paired_differences([1.0], [1.0, 2.0])


def test_rotation_moves_the_first_contender_each_round() -> None:
    names = ["a", "b", "c"]
    assert [rotation(names, index) for index in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_interleaved_rounds_sample_everyone_once_per_round_after_the_warmup() -> None:
    calls: list[str] = []

    def sampler(name: str, value: float) -> Callable[[], float]:
        def sample() -> float:
            calls.append(name)
            return value

        return sample

    samples = interleaved_rounds(
        {"ours": sampler("ours", 1.0), "theirs": sampler("theirs", 2.0)}, 3, warmup_rounds=1
    )
    assert samples == {"ours": [1.0, 1.0, 1.0], "theirs": [2.0, 2.0, 2.0]}
    # One warm-up round, then three rounds with the order rotated each time.
    assert calls == ["ours", "theirs", "ours", "theirs", "theirs", "ours", "ours", "theirs"]


def test_interleaved_rounds_need_at_least_one_round() -> None:
    with pytest.raises(ValueError, match="one round"):
        interleaved_rounds({"a": lambda: 1.0}, 0)


@pytest.mark.parametrize(
    ("target", "measured", "measured_ratio", "expected"),
    [
        (Target("≤ 1.5×", max_ratio=1.5), 1.0, 1.5, Status.PASS),
        (Target("≤ 1.5×", max_ratio=1.5), 1.0, 1.51, Status.FAIL),
        (Target("≤ 1.5×", max_ratio=1.5), 1.0, None, Status.FAIL),
        (Target("≤ 20 µs", max_seconds=20e-6), 19e-6, None, Status.PASS),
        (Target("≤ 20 µs", max_seconds=20e-6), 21e-6, 0.001, Status.FAIL),
        (None, 1.0, 2.0, Status.INFO),
    ],
)
def test_evaluate_gives_the_verdict(
    target: Target | None, measured: float, measured_ratio: float | None, expected: str
) -> None:
    assert evaluate(target, measured, measured_ratio) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (1.2, "1.20 s"),
        (0.00507, "5.07 ms"),
        (41.23e-6, "41.2 µs"),
        (123.4e-6, "123 µs"),
        (850e-9, "850 ns"),
    ],
)
def test_format_duration_picks_the_unit(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_ratio() -> None:
    assert format_ratio(1.3612) == "1.36×"
    assert format_ratio(0.000612) == "0.000612×"
    assert format_ratio(None) == "—"


def _run() -> RunResult:
    run = RunResult(
        command="python -m benchmarks --only client",
        started_utc="2026-11-26 17:00 UTC",
        quick=False,
        machine={"summary": "2 cores, Test CPU, Linux, CPython 3.11.7"},
        groups=["client"],
    )
    target = Target("≤ 1.50× raw verify", max_ratio=1.5)
    run.cases.append(
        CaseResult("client", "offline", "ours", 40e-6, "raw", 30e-6, 4 / 3, target, Status.PASS)
    )
    run.cases.append(error_case("client", "hwid", None, "ours: no generate_hardware_id | yet"))
    run.cases.append(CaseResult("server", "load", "w1", 1.0, "nginx", 2.0, 0.5, None, Status.INFO))
    return run


def test_text_table_has_one_line_per_case_and_cuts_long_notes() -> None:
    run = _run()
    run.cases[1].note = "x" * 500
    lines = text_table(run.cases, note_limit=40).splitlines()
    assert lines[0].split() == ["case", "ours", "reference", "ratio", "target", "result"]
    assert len(lines) == 2 + len(run.cases)
    assert "client: offline" in lines[2] and "ours 40.0 µs" in lines[2] and "1.33×" in lines[2]
    assert lines[3].endswith("ERROR: " + "x" * 39 + "…")


def test_markdown_block_holds_the_command_machine_date_and_only_its_group() -> None:
    block = markdown_block(_run(), "client")
    assert "`python -m benchmarks --only client`" in block
    assert "2 cores, Test CPU" in block and "2026-11-26 17:00 UTC" in block
    rows = [line for line in block.splitlines() if line.startswith("| client")]
    assert len(rows) == 2
    assert "PASS" in rows[0]
    assert "no generate_hardware_id \\| yet" in rows[1]  # a pipe cannot break the table
    assert "server: load" not in block


def test_replace_block_replaces_only_between_the_markers() -> None:
    begin, end = begin_marker("client"), end_marker("client")
    document = f"# Title\n\nintro\n\n{begin}\nold table\n{end}\n\nafter\n"
    updated = replace_block(document, "client", "new table")
    assert updated == f"# Title\n\nintro\n\n{begin}\nnew table\n{end}\n\nafter\n"
    assert replace_block(updated, "client", "new table") == updated


def test_replace_block_appends_a_section_for_a_new_group() -> None:
    updated = replace_block("# Title\n", "server", "| table |")
    assert updated == (
        f"# Title\n\n## Results: server\n\n{begin_marker('server')}\n| table |\n"
        f"{end_marker('server')}\n"
    )
    assert replace_block(updated, "server", "| other |").count("## Results: server") == 1


@pytest.mark.parametrize(
    "document",
    [
        f"{begin_marker('client')}\n{begin_marker('client')}\n{end_marker('client')}\n",
        f"{end_marker('client')}\nx\n{begin_marker('client')}\n",
        f"{begin_marker('client')}\nno end\n",
        f"{begin_marker('client')}\n{begin_marker('mail')}\nx\n{end_marker('mail')}\n"
        f"{end_marker('client')}\n",
    ],
)
def test_replace_block_refuses_broken_markers(document: str) -> None:
    with pytest.raises(ValueError, match="client"):
        replace_block(document, "client", "table")


def test_update_file_and_write_json_round_trip(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# B\n\n{begin_marker('client')}\n{end_marker('client')}\n", encoding="utf-8")
    run = _run()
    update_file(docs, "client", markdown_block(run, "client"))
    assert "| client: offline |" in docs.read_text(encoding="utf-8")

    path = tmp_path / "results" / "latest.json"
    write_json(run, path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["command"] == run.command
    assert saved["cases"][0]["target"] == {
        "description": "≤ 1.50× raw verify",
        "max_ratio": 1.5,
        "max_seconds": None,
    }
    assert [case["status"] for case in saved["cases"]] == ["PASS", "ERROR", "INFO"]
    assert [case.case for case in run.errors] == ["hwid"]


def test_importtime_cumulative_reads_the_top_level_module_line() -> None:
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |   exisone.__version__\n"
        "import time:       800 |       5400 | exisone\n"
        "import time:        50 |         50 | exisone_extra\n"
    )
    assert importtime_cumulative(stderr) == pytest.approx(5.4e-3)
    assert importtime_cumulative("import time: 1 | 2 | other\n") is None


def test_demo_tenant_finds_the_fields_in_nested_json() -> None:
    output = json.dumps(
        {
            "tenant": {"id": 1, "name": "Demo"},
            "access_token": "exo_at_pub_secret",
            "products": [{"product_name": "DemoApp"}],
            "licenses": [{"activationKey": "AAAA-BBBB-CCCC-DDDD", "email": "a@example.com"}],
        }
    )
    tenant = demo_tenant(output)
    assert tenant.token == "exo_at_pub_secret"
    assert tenant.product_name == "DemoApp"
    assert tenant.activation_key == "AAAA-BBBB-CCCC-DDDD"
    assert tenant.email == "a@example.com"


def test_demo_tenant_reads_the_servers_demo_output() -> None:
    output = json.dumps(
        {
            "tenantName": "demo",
            "productName": "DemoApp",
            "features": ["Export", "Pro"],
            "singleDeviceKey": "AGM2-7WGN-PKP2-BD9V",
            "corporateKey": "ZM7Q-S58J-YZDN-CMT0",
            "accessToken": "exo_at_pub_secret",
        }
    )
    tenant = demo_tenant(output)
    assert (tenant.token, tenant.activation_key, tenant.product_name, tenant.email) == (
        "exo_at_pub_secret",
        "AGM2-7WGN-PKP2-BD9V",
        "DemoApp",
        "bench@example.com",
    )


def test_demo_tenant_says_what_is_missing() -> None:
    with pytest.raises(ServerUnavailable, match="accesstoken"):
        demo_tenant(json.dumps({"activation_key": "k", "product_name": "p"}))
    with pytest.raises(ServerUnavailable, match="did not print JSON"):
        demo_tenant("not json")


def test_worker_environment_drops_the_variables_that_override_a_requests_session_ca() -> None:
    environ = {"PATH": "/bin", "REQUESTS_CA_BUNDLE": "/x.pem", "CURL_CA_BUNDLE": "/y.pem"}
    assert worker_environment(environ) == {"PATH": "/bin"}
