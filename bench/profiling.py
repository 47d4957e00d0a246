"""py-spy profiles of the HTTP benchmark's gunicorn workers (``bench/http_load.py --profile DIR``)."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from cpu import group_pids

PYTHON = sys.executable


class Named(Protocol):
    """A benchmark target: its name names its profile files."""

    @property
    def name(self) -> str: ...


def profile_stem(target: Named) -> str:
    return re.sub(r"[^a-z]+", "_", target.name).strip("_")


def start_profilers(
    master_pid: int, target: Named, args: argparse.Namespace
) -> list[subprocess.Popen[bytes]]:
    """py-spy on every worker for the measured run (its own CPU is not counted: it is
    not in the server's process group). Sampling slows the workers, so a profiled
    run's figures are for reading proportions, not throughput."""
    args.profile.mkdir(parents=True, exist_ok=True)
    py_spy = shutil.which("py-spy", path=str(Path(PYTHON).parent) + os.pathsep + os.environ["PATH"])
    workers = [pid for pid in group_pids(master_pid) if pid != master_pid]
    return [
        subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(args.duration),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(args.profile / f"{profile_stem(target)}.{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in workers
    ]


def print_profile(directory: Path, target: Named, top: int = 40) -> None:
    """Share of the workers' on-CPU samples per function, inclusive (the function and
    everything it calls) and self (the function's own code)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for path in directory.glob(f"{profile_stem(target)}.*.txt"):
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            count = int(count_text)
            total += count
            frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + count
            own[frames[-1]] = own.get(frames[-1], 0) + count
    if not total:
        print(f"\n{target.name}: no samples (is py-spy allowed to attach here?)")
        return
    print(f"\nProfile of {target.name} ({total} samples in the workers)")
    for title, counts in (("inclusive", inclusive), ("self", own)):
        print(f"  -- {title}")
        for frame, count in sorted(counts.items(), key=lambda item: -item[1])[:top]:
            print(f"  {100 * count / total:6.1f}%  {frame[:140]}")
