"""docs/operations.md stays true: every setting, gunicorn variable and alert is documented."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command, get_commands

from config.envvars import markdown_table, settings_env_vars
from config.management.commands.envvars import END, START

BASE_DIR = Path(__file__).resolve().parents[2]
DOC = BASE_DIR / "docs" / "operations.md"


def test_the_settings_reader_finds_names_types_defaults_and_comments():
    variables = {var.name: var for var in settings_env_vars()}

    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "METRICS_TOKEN"} <= set(variables)
    assert variables["BULK_MAX_ROWS"].cast == "int"
    assert variables["BULK_MAX_ROWS"].default == "10_000"
    assert "Limits of one job's input" in variables["BULK_MAX_ROWS"].comment
    assert variables["DATABASE_URL"].cast == "db_url"
    # A run of settings under one comment shares it.
    assert variables["UPSTREAM_READ_TIMEOUT"].comment == variables["UPSTREAM_CONNECT_TIMEOUT"].comment != ""


def test_every_setting_is_documented_with_the_generated_table():
    expected = markdown_table(settings_env_vars())
    text = DOC.read_text()

    section = text[text.index(START) + len(START) : text.index(END)].strip()
    assert section == expected, (
        "docs/operations.md's variables are out of date: run "
        "`python manage.py envvars --write docs/operations.md`"
    )
    for var in settings_env_vars():
        assert f"| `{var.name}` |" in section


def test_envvars_command_prints_and_rewrites_only_its_section(tmp_path):
    out = StringIO()
    call_command("envvars", stdout=out)
    assert out.getvalue().strip() == markdown_table(settings_env_vars())

    doc = tmp_path / "ops.md"
    doc.write_text(f"# Title\n\nbefore\n\n{START}\nstale\n{END}\n\nafter\n")
    call_command("envvars", write=doc, stderr=StringIO())
    text = doc.read_text()
    assert text.startswith("# Title\n\nbefore\n\n")
    assert text.endswith(f"{END}\n\nafter\n")
    assert "stale" not in text
    assert "| `SECRET_KEY` |" in text

    doc.write_text("no markers\n")
    with pytest.raises(CommandError, match="No generated section"):
        call_command("envvars", write=doc)


def test_gunicorn_variables_are_documented():
    source = (BASE_DIR / "deploy" / "gunicorn.conf.py").read_text()
    text = DOC.read_text()

    for name in re.findall(r'os\.environ\.get\("(\w+)"', source):
        assert f"| `{name}` |" in text, name


def test_every_alert_has_a_row_in_the_alerts_table():
    rules = yaml.safe_load((BASE_DIR / "deploy" / "prometheus" / "alerts.yml").read_text())
    alerts = [rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    text = DOC.read_text()

    assert alerts
    for alert in alerts:
        assert f"| `{alert}` |" in text, alert


def test_the_documented_commands_exist():
    makefile = (BASE_DIR / "Makefile").read_text()
    text = DOC.read_text()

    for target in ("backup", "restore"):
        assert re.search(rf"^{target}:", makefile, re.M)
        assert f"make {target}" in text
    for command in ("dbbackup", "dbrestore", "reconcile_credits", "envvars"):
        assert command in text
        assert command in get_commands(), command
    assert "CONFIRM=yes" in makefile
    assert "CONFIRM=yes" in text
