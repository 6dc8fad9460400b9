"""Profile a real ``orca serve`` under the server figures' load: where a run's time goes.

python benchmarks/profile_server.py                  # 16 clients, 10 s, cProfile
python benchmarks/profile_server.py --clients 1      # one client, runs back to back
python benchmarks/profile_server.py --tmpfs          # the project on /dev/shm: no fsync
python benchmarks/profile_server.py --spans          # no profiler: CPU and wall per run

The server runs as its own process (``python -c`` around ``orca.cli.main``) with
cProfile on its event loop's thread; on SIGTERM uvicorn stops, and the stats are written
and printed per run (calls and seconds divided by the runs completed). ``--spans`` runs
it unprofiled and reports the server's CPU seconds per run (from /proc) beside the
client's view, which is what the profile's proportions are then applied to. The store's
writer thread is not in a cProfile profile: its share shows as the time the loop waits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import signal
import sys
import tempfile
import time
from pathlib import Path

import server_figures as sf

BOOT = """
import cProfile, signal, sys
from orca.cli import main
out = sys.argv.pop(1)
profile = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
def stop(*_):
    profile.disable()
    profile.dump_stats(out)
signal.signal(signal.SIGUSR2, stop)
main()
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(server: sf.Server, clients: int, seconds: float) -> int:
    done = 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        conn = sf.Connection("127.0.0.1", server.port)
        try:
            while time.perf_counter() < stop:
                await sf._orca_wait(conn)
                done += 1
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=sf.CLIENTS)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tmpfs", action="store_true", help="the project on /dev/shm")
    parser.add_argument("--spans", action="store_true", help="no profiler: CPU per run")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative)")
    args = parser.parse_args()
    where = "/dev/shm" if args.tmpfs else None
    with tempfile.TemporaryDirectory(prefix="orca-profile-", dir=where) as tmp:
        stats = Path(tmp) / "serve.prof"
        boot = None if args.spans else [sys.executable, "-c", BOOT, str(stats)]
        with sf.orca_server(Path(tmp), launcher=boot) as server:
            asyncio.run(_load(server, args.clients, 2.0))  # warm-up
            if boot:
                os.kill(server.proc.pid, signal.SIGUSR1)
            cpu0, start = _cpu_seconds(server.proc.pid), time.perf_counter()
            runs = asyncio.run(_load(server, args.clients, args.seconds))
            wall = time.perf_counter() - start
            cpu = _cpu_seconds(server.proc.pid) - cpu0
            if boot:
                os.kill(server.proc.pid, signal.SIGUSR2)
                deadline = time.monotonic() + 30
                while not stats.exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(0.5)  # the dump is written at once
                if not stats.exists():
                    raise SystemExit(f"no profile written: {server.log.read_text()[-3000:]}")
        print(
            f"{runs} runs in {wall:.1f} s with {args.clients} client(s): {runs / wall:.1f} runs/s; "
            f"server CPU {cpu / runs * 1000:.2f} ms/run ({cpu / wall * 100:.0f}% of a core)"
        )
        if args.spans:
            return 0
        print(f"(cProfile of the event loop's thread; divide by {runs} for per run)")
        pstats.Stats(str(stats)).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
