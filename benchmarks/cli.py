"""``python -m benchmarks``: run the selected groups, print the table, save JSON, update docs."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.docs_table import update_file
from benchmarks.machine import describe_machine
from benchmarks.registry import REPO_ROOT, RunContext, all_groups
from benchmarks.report import markdown_block, text_table
from benchmarks.results import RunResult, write_json

__all__ = ["main"]

DEFAULT_JSON = REPO_ROOT / "benchmarks" / "results" / "latest.json"
DEFAULT_DOCS = REPO_ROOT / "docs" / "benchmarks.md"


def _parser(group_names: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks that report ratios measured side by side in one run.",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="GROUP",
        help=f"run only this group (repeatable, or comma-separated): {', '.join(group_names)}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: few rounds, short batches; docs untouched"
    )
    parser.add_argument("--rounds", type=int, help="override every group's number of rounds")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="Markdown file to update")
    parser.add_argument("--no-docs", action="store_true", help="do not update the docs table")
    parser.add_argument("--list", action="store_true", help="list the groups and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def _selected(only: list[str] | None, known: Sequence[str]) -> list[str]:
    if not only:
        return list(known)
    wanted = [name.strip() for item in only for name in item.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise SystemExit(f"unknown group(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [name for name in known if name in wanted]


def _interpreter() -> str:
    """This interpreter as the docs show it: relative to the repository, never a machine path."""
    executable = Path(sys.executable)
    if executable.is_relative_to(REPO_ROOT):
        return str(executable.relative_to(REPO_ROOT))
    return "python"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks. Exit 0 when every case was measured (met or missed), 1 otherwise."""
    groups = all_groups()
    args = _parser(list(groups)).parse_args(argv)
    if args.list:
        for group in groups.values():
            print(f"{group.name}: {group.description}")
        return 0
    selected = _selected(args.only, list(groups))
    arguments = shlex.join(list(argv if argv is not None else sys.argv[1:]))
    command = f"{_interpreter()} -m benchmarks {arguments}"
    ctx = RunContext(quick=args.quick, rounds=args.rounds, verbose=not args.quiet)
    run = RunResult(
        command=command.strip(),
        started_utc=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        quick=args.quick,
        machine=describe_machine(),
        groups=selected,
    )
    for name in selected:
        ctx.log(f"== group {name}")
        run.cases.extend(groups[name].run(ctx))
    run.machine["details"] = ctx.machine_details

    print(text_table(run.cases))
    write_json(run, args.json)
    print(f"\nresults: {args.json}")
    if args.quick or args.no_docs or args.rounds is not None:
        print("docs table not updated (quick run, --no-docs or --rounds)")
    else:
        for name in selected:
            update_file(args.docs, name, markdown_block(run, name))
        print(f"docs table updated: {args.docs}")
    for case in run.errors:
        print(f"ERROR {case.group}: {case.case}: {case.note}", file=sys.stderr)
    return 1 if run.errors else 0
