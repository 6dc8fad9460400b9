"""Measure Orca and LangGraph side by side; write RESULTS.md and results.json.

python benchmarks/run.py                 # every workload, 5 repetitions
python benchmarks/run.py --quick         # 3 repetitions, a smoke check
python benchmarks/run.py --only a,b --reps 7
python benchmarks/run.py --only llm         # the LLM layer's figures only
python benchmarks/run.py --only ledger      # the budget ledger's figures only
python benchmarks/run.py --only eventlog    # the event log's overhead only
python benchmarks/run.py --only startup     # cli_startup_ms and open_store_ms only
python benchmarks/run.py --only server --server-seconds 5   # the server figures, shorter load
python benchmarks/run.py --only ui --merge  # the web UI's figures, kept beside the others
python benchmarks/run.py --only pg          # PostgreSQL: b_pg, c_pg, d_pg, the ledger, workers
python benchmarks/run.py --only langgraph_parity_pct --merge   # the LangGraph parity suite's share
python benchmarks/run.py --only pools --merge  # local engine pools: dispatch, throughput, recovery
"""

import argparse
import datetime
import importlib.metadata
import os
import platform
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import eventlog_figures
import ledger_figures
import llm_figures
import parity_figures
import pg_figures
import pool_figures
import server_figures
import startup_figures
import ui_figures
from _engines import ENGINES, Engine
from _measure import Samples, Trial, sample
from _report import figure_entry, floor_entry, write_json, write_markdown
from workloads import FLOOR, WORKLOADS, Workload, floor_trial

HERE = Path(__file__).resolve().parent
DEFAULT_REPS = 5
QUICK_REPS = 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    keys = ", ".join(w.key for w in WORKLOADS)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reps", type=int, help=f"timed repetitions per figure (default {DEFAULT_REPS})"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_REPS} repetitions, for a smoke check"
    )
    parser.add_argument(
        "--only", help=f"comma-separated workloads ({keys}); 'c' means both c's, figure ids work"
    )
    parser.add_argument(
        "--engines", default="orca,langgraph", help="comma-separated, default orca,langgraph"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder for RESULTS.md and results.json"
    )
    parser.add_argument(
        "--server-seconds",
        type=float,
        default=server_figures.SECONDS,
        help=f"server_runs_per_s: seconds of load per engine and repetition "
        f"(default {server_figures.SECONDS:g})",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the figures of the existing results.json that this run does not measure",
    )
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = QUICK_REPS if args.quick else DEFAULT_REPS
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    if args.server_seconds <= 0:
        parser.error("--server-seconds must be more than 0")
    try:
        args.workloads = select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    return args


# figure ids and group names measured outside the engine workloads
GROUPS = {
    *llm_figures.IDS,
    "llm",
    *ledger_figures.IDS,
    "ledger",
    *eventlog_figures.IDS,
    "eventlog",
    *startup_figures.IDS,
    "startup",
    *server_figures.IDS,
    "server",
    *ui_figures.IDS,
    "ui",
    *pg_figures.IDS,
    *parity_figures.IDS,
    "parity",
    *pool_figures.IDS,
    "pools",
}


def select(only: str | None) -> list[Workload]:
    if not only:
        return list(WORKLOADS)
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    wanted -= GROUPS
    chosen = [
        w
        for w in WORKLOADS
        if w.key in wanted
        or w.key.split("_")[0] in wanted
        or any(f.id in wanted for f in w.figures)
        or (w.key == "b" and FLOOR.id in wanted)
    ]
    known = {w.key for w in WORKLOADS} | {w.key.split("_")[0] for w in WORKLOADS}
    known |= {f.id for w in WORKLOADS for f in w.figures} | {FLOOR.id}
    known |= GROUPS
    unknown = wanted - known
    if unknown:
        raise ValueError(f"unknown workload(s): {', '.join(sorted(unknown))}")
    return chosen


def load_engines(names: str) -> tuple[list[Engine], dict[str, str]]:
    engines, errors = [], {}
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in ENGINES:
            raise SystemExit(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
        try:
            engines.append(ENGINES[name]())
        except Exception as exc:
            errors[name] = f"engine unavailable: {type(exc).__name__}: {exc}"
            print(f"[bench] {name} skipped: {errors[name]}", file=sys.stderr)
    return engines, errors


def _run_guarded(contexts: dict[str, AbstractContextManager[Trial]], reps: int) -> Samples:
    """Enter each engine's context, sample the trials, then close the contexts."""
    trials: dict[str, Trial] = {}
    entered: list[tuple[str, AbstractContextManager[Trial]]] = []
    errors: dict[str, str] = {}
    for name, context in contexts.items():
        try:
            trials[name] = context.__enter__()
            entered.append((name, context))
        except Exception as exc:
            errors[name] = f"while preparing: {type(exc).__name__}: {exc}"
    try:
        samples = sample(trials, reps)
    finally:
        for name, context in reversed(entered):
            try:
                context.__exit__(None, None, None)
            except Exception as exc:
                errors.setdefault(name, f"while closing: {type(exc).__name__}: {exc}")
    samples.errors.update(errors)
    return samples


def machine_info(engines: list[Engine], reps: int, wall_s: float) -> dict[str, Any]:
    versions = {e.name: e.version for e in engines}
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "langgraph": versions.get("langgraph", "not loaded"),
        "langgraph_checkpoint_sqlite": _dist_version("langgraph-checkpoint-sqlite"),
        "langgraph_api": _dist_version("langgraph-api"),
        "langgraph_cli": _dist_version("langgraph-cli"),
        "uvicorn": _dist_version("uvicorn"),
        "orca": versions.get("orca", "not loaded"),
        "sqlite": __import__("sqlite3").sqlite_version,
        "reps": reps,
        "wall_s": round(wall_s, 1),
    }
    return info


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _show(figure_id: str, entry: dict[str, Any]) -> None:
    print(
        f"[bench] {figure_id:14} orca {_fmt(entry['orca']):>10}  langgraph "
        f"{_fmt(entry['langgraph']):>10} {entry['unit']:13} ratio {_fmt(entry['ratio'])}",
        file=sys.stderr,
    )


def merged(path: Path, results: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """``results`` over the figures of the results.json at ``path`` (--merge): the
    figures not measured now are kept, with the machine they were measured on."""
    import json

    if not path.exists():
        return results, [f for w in WORKLOADS for f in w.figures if f.id in results]
    old = json.loads(path.read_text(encoding="utf-8"))
    machine = results.pop("machine")
    if "machine" in old:
        machine = {**old["machine"], "merged": f"{machine['date']}: {', '.join(results)}"}
    combined = {**old, **results, "machine": machine}
    return combined, [f for w in WORKLOADS for f in w.figures if f.id in combined]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    engines, engine_errors = load_engines(args.engines)
    if not engines:
        print("[bench] no engine could be loaded", file=sys.stderr)
        return 1

    results: dict[str, Any] = {}
    figures = []
    for workload in args.workloads:
        reps = workload.fixed_reps or args.reps
        print(f"[bench] {workload.key}: 1 warm-up + {reps} repetitions", file=sys.stderr)
        samples = _run_guarded({e.name: workload.prepare(e) for e in engines}, reps)
        samples.errors = {**engine_errors, **samples.errors}
        for name, error in samples.errors.items():
            print(f"[bench] {workload.key} {name} FAILED:\n{error}", file=sys.stderr)
        for figure in workload.figures:
            results[figure.id] = figure_entry(figure, samples)
            figures.append(figure)
            _show(figure.id, results[figure.id])
        if workload.key == "b":
            floor_samples = _run_guarded({"floor": floor_trial()}, args.reps)
            results[FLOOR.id] = floor_entry(floor_samples, results.get("b"))
            print(f"[bench] {FLOOR.id:14} {_fmt(results[FLOOR.id]['value'])} us", file=sys.stderr)

    wanted = None if not args.only else {n.strip() for n in args.only.split(",")}
    llm_results = llm_figures.run(args.reps, wanted)
    results.update(llm_results)
    ledger_results = ledger_figures.run(args.reps, wanted)
    results.update(ledger_results)
    eventlog_results = eventlog_figures.run(args.reps, wanted)
    results.update(eventlog_results)
    startup_results = startup_figures.run(args.reps, wanted)
    results.update(startup_results)
    server_figures.SECONDS = args.server_seconds
    server_results = server_figures.run(args.reps, wanted)
    results.update(server_results)
    ui_results = ui_figures.run(args.reps, wanted)
    results.update(ui_results)
    pg_results = pg_figures.run(args.reps, wanted)
    results.update(pg_results)
    parity_results = parity_figures.run(args.reps, wanted)
    results.update(parity_results)
    pool_results = pool_figures.run(args.reps, wanted)
    results.update(pool_results)

    machine = machine_info(engines, args.reps, time.perf_counter() - start)
    results["machine"] = machine
    wall = machine["wall_s"]  # this run's (a merge shows the machine of the full run)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        results, figures = merged(args.out / "results.json", results)
        llm_results, ledger_results, eventlog_results = results, results, results
        startup_results, server_results, ui_results = results, results, results
        pg_results, parity_results, pool_results = results, results, results
        machine = results["machine"]
    write_json(args.out / "results.json", results)
    write_markdown(
        args.out / "RESULTS.md",
        results,
        figures,
        machine,
        llm_figures.markdown(llm_results)
        + ledger_figures.markdown(ledger_results)
        + eventlog_figures.markdown(eventlog_results)
        + startup_figures.markdown(startup_results)
        + server_figures.markdown(server_results)
        + ui_figures.markdown(ui_results)
        + pg_figures.markdown(pg_results)
        + parity_figures.markdown(parity_results)
        + pool_figures.markdown(pool_results),
    )
    print(f"[bench] wrote {args.out / 'RESULTS.md'} in {wall} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
