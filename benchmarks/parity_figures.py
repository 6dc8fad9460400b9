"""langgraph_parity_pct: the share of the parity suite's cases (tests/parity) on which
``orca.compat.langgraph`` behaves like LangGraph itself.

python benchmarks/parity_figures.py              # the table by area, and the three figures
python benchmarks/parity_figures.py --show ID    # both observations of one case (ID or a prefix)
python benchmarks/parity_figures.py --json       # the figures as JSON
python benchmarks/parity_figures.py --markdown   # docs/langgraph.md's list of differences

langgraph_parity_pct   cases whose observations are equal / all cases * 100
on_purpose             cases listed in tests/parity/differences.py as "on purpose"
parity_or_documented_pct  cases that match or differ on purpose (documented) / all * 100
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "tests" / "parity"
PACKAGE = "orca_parity_suite"  # not "parity": other figures put tests/ on sys.path
IDS = ("langgraph_parity_pct",)
TARGET_PCT = 100.0  # of cases that match or differ on purpose and documented


def load_suite() -> ModuleType:
    """The suite's package with every case file imported (its cases registered)."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, SUITE / "__init__.py", submodule_search_locations=[str(SUITE)]
        )
        assert spec is not None
        assert spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
        for path in sorted(SUITE.glob("test_*.py")):
            importlib.import_module(f"{PACKAGE}.{path.stem}")
    return sys.modules[PACKAGE]


def outcomes() -> list[dict[str, Any]]:
    """Every case's outcome: id, area, match, and its listed difference if any."""
    load_suite()
    harness = sys.modules[f"{PACKAGE}._harness"]
    differences = importlib.import_module(f"{PACKAGE}.differences").DIFFERENCES
    out = []
    for case_id in harness.CASES:
        reference = harness.observe(case_id, "langgraph")
        got = harness.observe(case_id, "orca")
        kind, reason = differences.get(case_id, (None, None))
        out.append(
            {
                "id": case_id,
                "area": case_id.split(".")[0],
                "match": reference == got,
                "sound": "raised" not in reference,
                "kind": kind,
                "reason": reason,
            }
        )
    return out


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    total = len(rows)
    matched = sum(r["match"] for r in rows)
    on_purpose = sum(1 for r in rows if not r["match"] and r["kind"] == "on purpose")
    documented = matched + on_purpose
    pct = round(100.0 * matched / total, 1) if total else None
    ok_pct = round(100.0 * documented / total, 1) if total else None
    return {
        "value": pct,
        "unit": "%",
        "cases": total,
        "matched": matched,
        "on_purpose": on_purpose,
        "not_yet": sum(1 for r in rows if not r["match"] and r["kind"] == "not yet"),
        "unlisted": sum(1 for r in rows if not r["match"] and r["kind"] is None),
        "parity_or_documented_pct": ok_pct,
        "by_area": {
            area: {"cases": n, "matched": sum(r["match"] for r in rows if r["area"] == area)}
            for area, n in sorted(Counter(r["area"] for r in rows).items())
        },
        "target": f"{TARGET_PCT:g}% match or differ on purpose (documented)",
        "met": ok_pct is not None and ok_pct >= TARGET_PCT,
    }


def run(reps: int, wanted: set[str] | None) -> dict[str, dict[str, Any]]:
    """benchmarks/run.py's hook: the figure when wanted (a count, not a timing: ``reps``
    does not apply)."""
    if wanted is not None and not wanted & {*IDS, "parity"}:
        return {}
    print("[bench] langgraph_parity_pct: the parity suite, once", file=sys.stderr)
    try:
        entry = figures(outcomes())
    except Exception as exc:
        entry = {"error": f"{type(exc).__name__}: {exc}", "met": None}
    print(f"[bench] langgraph_parity_pct {entry.get('value')}", file=sys.stderr)
    return {"langgraph_parity_pct": entry}


def markdown(results: dict[str, Any]) -> list[str]:
    """The LangGraph parity section of RESULTS.md."""
    entry = results.get("langgraph_parity_pct")
    if not entry:
        return []
    lines = ["", "## LangGraph parity", ""]
    if "error" in entry:
        return [*lines, f"- `langgraph_parity_pct`: error `{entry['error']}`"]
    lines += [
        f"- `langgraph_parity_pct`: {entry['value']}% of {entry['cases']} cases "
        f"(tests/parity) give the same observations on `orca.compat.langgraph` as on "
        f"LangGraph; {entry['on_purpose']} differ on purpose (docs/langgraph.md), "
        f"{entry['not_yet']} are not built yet.",
        f"- match or differ on purpose: {entry['parity_or_documented_pct']}%; target "
        f"{entry['target']}: {'met' if entry['met'] else 'NOT met'}. Every remaining "
        "difference, with why, is listed in docs/langgraph.md (Differences).",
        "",
        "| area | cases | match |",
        "|---|---|---|",
    ]
    for area, row in entry["by_area"].items():
        lines.append(f"| {area} | {row['cases']} | {row['matched']} |")
    return lines


def table(rows: list[dict[str, Any]]) -> str:
    fig = figures(rows)
    lines = [f"{'area':14} {'cases':>5} {'match':>5}"]
    for area, row in fig["by_area"].items():
        lines.append(f"{area:14} {row['cases']:5} {row['matched']:5}")
    lines.append("")
    for r in rows:
        if not r["match"]:
            listed = f"{r['kind']}: {r['reason']}" if r["kind"] else "NOT LISTED"
            lines.append(f"  differs  {r['id']:48} {listed}")
        if not r["sound"]:
            lines.append(f"  UNSOUND  {r['id']} (raises on LangGraph)")
    lines += [
        "",
        f"langgraph_parity_pct      {fig['value']}% ({fig['matched']}/{fig['cases']})",
        f"on purpose                {fig['on_purpose']}",
        f"match or on purpose       {fig['parity_or_documented_pct']}%",
    ]
    return "\n".join(lines)


def show(prefix: str) -> None:
    load_suite()
    harness = sys.modules[f"{PACKAGE}._harness"]
    for case_id in harness.CASES:
        if case_id == prefix or case_id.startswith(prefix):
            print(f"== {case_id}")
            for library in ("langgraph", "orca"):
                observation = harness.observe(case_id, library)
                print(f"  {library:9} {json.dumps(observation, default=str)}")


def differences_markdown() -> str:
    """The registry of differences as the list docs/langgraph.md carries, by area."""
    load_suite()
    differences = importlib.import_module(f"{PACKAGE}.differences").DIFFERENCES
    lines: list[str] = []
    for kind in ("on purpose", "not yet"):
        listed = sorted((i, r) for i, (k, r) in differences.items() if k == kind)
        if not listed:
            continue
        lines += ["", f"### {kind.capitalize()} ({len(listed)})", ""]
        area = None
        for case_id, reason in listed:
            if case_id.split(".")[0] != area:
                area = case_id.split(".")[0]
                lines += [f"- **{area}**"]
            lines.append(f"  - `{case_id}`: {reason}")
    return "\n".join(lines).strip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", help="print both observations of the cases with this prefix")
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    parser.add_argument(
        "--markdown", action="store_true", help="the differences, as docs/langgraph.md lists them"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(differences_markdown(), end="")
        return 0
    if args.show:
        show(args.show)
        return 0
    rows = outcomes()
    print(json.dumps(figures(rows), indent=2) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
