"""Run pip-audit on the installed environment, ignoring only the ids in accepted-findings.md.

Fails (exit 1) on any known vulnerability not accepted there, and on any other error of
pip-audit's. When the vulnerability service (PyPI's JSON API) cannot be reached, or answers
that it does not know the packages (a machine behind a package mirror that serves only the
simple index), nothing could be audited: that is printed as a loud WARNING and is not a
failure, so ``make test`` passes on a fresh offline machine. ``SECURITY_AUDIT_OFFLINE=1`` skips
the audit without trying.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

FINDINGS = Path(__file__).resolve().parent / "accepted-findings.md"
VULN_ID = re.compile(r"^\|\s*`((?:PYSEC|GHSA|CVE|OSV)-[^`]+)`", re.MULTILINE)
UNREACHABLE = (
    "could not be audited",
    "Dependency not found on PyPI",
    "ConnectionError",
    "Max retries exceeded",
    "Name or service not known",
    "Temporary failure in name resolution",
    "timed out",
)


def accepted_ids() -> list[str]:
    text = FINDINGS.read_text()
    section = text.split("## pip-audit", 1)[1] if "## pip-audit" in text else ""
    return VULN_ID.findall(section)


def run_pip_audit(command: list[str]) -> subprocess.CompletedProcess[str]:
    # A fixed command: pip-audit beside this interpreter, ids from the repository's own file.
    return subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603


def service_unreachable(output: str) -> bool:
    """pip-audit found nothing because it could ask nobody, not because nothing is vulnerable."""
    return "Found " not in output and any(sign in output for sign in UNREACHABLE)


def main() -> int:
    if os.environ.get("SECURITY_AUDIT_OFFLINE") == "1":
        print("pip-audit SKIPPED (SECURITY_AUDIT_OFFLINE=1): dependencies were NOT audited.", file=sys.stderr)
        return 0
    command = [
        str(Path(sys.executable).with_name("pip-audit")),
        "--strict",
        "--progress-spinner",
        "off",
        *(arg for vuln in accepted_ids() for arg in ("--ignore-vuln", vuln)),
    ]
    result = run_pip_audit(command)
    output = "\n".join(
        line
        for line in (result.stdout + result.stderr).splitlines()
        if not line.startswith("WARNING: Location")  # pip's notes about local index mirrors
    )
    if result.returncode == 0:
        print(output.strip() or "pip-audit: no known vulnerabilities.")
        return 0
    if service_unreachable(output):
        print(
            "WARNING: pip-audit could NOT audit the dependencies: the vulnerability service (PyPI's JSON "
            "API, https://pypi.org/pypi/<name>/<version>/json) could not be reached or did not know the "
            "packages. Run `make security` where pypi.org answers to audit them.\n"
            "First lines of pip-audit's output:\n" + "\n".join(output.splitlines()[:5]),
            file=sys.stderr,
        )
        return 0
    print(output, file=sys.stderr)
    print(
        "pip-audit FAILED: upgrade the vulnerable pins to a fixed version, or accept a finding "
        "with its reason in security/accepted-findings.md.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
