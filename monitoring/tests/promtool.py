"""promtool (Debian's ``prometheus`` package).

Tests that need it are skipped with the reason when it is missing, and fail under REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def promtool_path() -> str:
    path = shutil.which("promtool")
    if path is None:
        reason = "promtool is not installed: apt-get install prometheus (.ci/run does)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1: {reason}")
        pytest.skip(reason)
    return path


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_path(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=BASE_DIR,
        timeout=120,
    )
