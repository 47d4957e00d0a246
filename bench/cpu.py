"""CPU accounting for the HTTP benchmarks: what each process tree spent, read from /proc.

bench/http_load.py samples a ``CpuProbe`` around each measured run, and prints
``calibration_ms`` beside each round so a busy neighbour shows in the figures.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int, *, kernel_only: bool = False) -> float:
    """User + system CPU of one process so far, or only the system (kernel) part
    (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[12]) + (0 if kernel_only else int(fields[11]))) / CLOCK_TICKS


def pids_where(field: int, value: int) -> list[int]:
    """The processes whose /proc stat ``field`` (counted after the command name:
    1 the parent, 2 the process group) is ``value``."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[field]) == value:
            pids.append(int(stat.parent.name))
    return pids


def group_pids(pgid: int) -> list[int]:
    return pids_where(2, pgid)


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def child_pids(parent: int) -> list[int]:
    return pids_where(1, parent)


def reaped_children_cpu_seconds(pid: int, *, kernel_only: bool = False) -> float:
    """CPU of the children ``pid`` has waited for (cutime + cstime, or cstime only)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[14]) + (0 if kernel_only else int(fields[13]))) / CLOCK_TICKS


@dataclass
class CpuProbe:
    """CPU seconds spent by each part of the system under test: the gunicorn
    processes, PostgreSQL, the benchmark's own Redis server. wrk's own CPU comes from
    its rusage.

    Each part is a tree of processes whose root waits for the others when they end
    (gunicorn's master for its workers, PostgreSQL's postmaster for its backends,
    WAL writer, checkpointer and autovacuum): a sample is the sum of every live
    process's CPU plus what the root's ended children spent, which the kernel adds to
    the root's children's time when it reaps them. Django reconnects every
    CONN_MAX_AGE seconds, so backends come and go during a run; the difference of
    two such sums counts each of them once, for the time between the samples. Run it
    on a quiet PostgreSQL server: another database's work would count too."""

    gunicorn_pgid: int
    redis_pid: int
    database_url: str

    @cached_property
    def postmaster_pid(self) -> int:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            if row is None:
                raise RuntimeError("PostgreSQL did not say its backend's pid")
            return parent_pid(int(row[0]))  # while the backend is still there

    @staticmethod
    def tree_cpu(root: int, members: list[int], *, kernel_only: bool = False) -> float:
        """CPU so far of ``members`` (``root`` among them) and of the root's ended children."""
        live = sum(process_cpu_seconds(pid, kernel_only=kernel_only) for pid in members)
        return live + reaped_children_cpu_seconds(root, kernel_only=kernel_only)

    def sample(self) -> dict[str, float]:
        """CPU seconds so far of each part."""
        web = group_pids(self.gunicorn_pgid)
        postmaster = self.postmaster_pid
        return {
            "web": self.tree_cpu(self.gunicorn_pgid, web),
            "web_kernel": self.tree_cpu(self.gunicorn_pgid, web, kernel_only=True),
            "postgres": self.tree_cpu(postmaster, [postmaster, *child_pids(postmaster)]),
            "redis": process_cpu_seconds(self.redis_pid),
        }


def calibration_ms() -> float:
    """The best of three timings of a fixed pure-Python workload, in ms: the same on an
    idle core of this machine from run to run, longer when a neighbour shares the core."""

    def work() -> int:
        total = 0
        for i in range(1_500_000):
            total += i % 7
        return total

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        work()
        best = min(best, (time.perf_counter() - started) * 1000)
    return best
