"""The dependency audit: a vulnerability fails, an audit that could ask nobody only warns."""

from __future__ import annotations

import subprocess

import pytest

from security import pip_audit

# pip-audit's own output (2.10), as it prints it in each case.
VULNERABLE = (
    "Found 1 known vulnerability in 1 package\n"
    "Name   Version ID                  Fix Versions\n"
    "------ ------- ------------------- ------------\n"
    "django 5.2.0   GHSA-7xr5-9hcq-chf9 5.2.1\n"
)
NOT_ON_PYPI = (
    "ERROR:pip_audit._cli:amqp: Dependency not found on PyPI and could not be audited: amqp (5.4.2)\n"
)
NO_NETWORK = (
    "ERROR:pip_audit._cli:amqp: Dependency could not be audited: HTTPSConnectionPool(host='pypi.org', "
    "port=443): Max retries exceeded with url: /pypi/amqp/5.4.2/json (Caused by NameResolutionError("
    "'Temporary failure in name resolution'))\n"
)


def fake_pip_audit(
    monkeypatch: pytest.MonkeyPatch, *, stdout: str = "", stderr: str = "", returncode: int
) -> None:
    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        assert "--strict" in command
        return subprocess.CompletedProcess(command, returncode, stdout, stderr)

    monkeypatch.setattr(pip_audit, "run_pip_audit", run)


def test_a_known_vulnerability_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_pip_audit(monkeypatch, stdout=VULNERABLE, returncode=1)

    assert pip_audit.main() == 1
    assert "GHSA-7xr5-9hcq-chf9" in capsys.readouterr().err


def test_a_vulnerability_fails_even_beside_packages_that_could_not_be_audited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_pip_audit(monkeypatch, stdout=VULNERABLE, stderr=NOT_ON_PYPI, returncode=1)

    assert pip_audit.main() == 1


@pytest.mark.parametrize("stderr", [NOT_ON_PYPI, NO_NETWORK], ids=["not-on-pypi", "no-network"])
def test_an_unreachable_service_is_a_loud_warning_not_a_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stderr: str
) -> None:
    fake_pip_audit(monkeypatch, stderr=stderr, returncode=1)

    assert pip_audit.main() == 0
    assert "WARNING: pip-audit could NOT audit the dependencies" in capsys.readouterr().err


def test_any_other_error_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pip_audit(
        monkeypatch, stderr="Traceback (most recent call last):\n  ...\nKeyError: 'x'\n", returncode=1
    )

    assert pip_audit.main() == 1


def test_a_clean_audit_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pip_audit(monkeypatch, stdout="No known vulnerabilities found\n", returncode=0)

    assert pip_audit.main() == 0


def test_accepted_findings_are_passed_to_pip_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(pip_audit, "accepted_ids", lambda: ["GHSA-aaaa-bbbb-cccc"])

    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        seen.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(pip_audit, "run_pip_audit", run)
    pip_audit.main()

    assert seen[0][-2:] == ["--ignore-vuln", "GHSA-aaaa-bbbb-cccc"]
