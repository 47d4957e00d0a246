"""Evaluate FNSKU conversion on the labelled evaluation set; with --fit, refit the confidence model first.

python manage.py eval_fnsku          # figures for the fit and the held-out split
python manage.py eval_fnsku --fit    # refit on the fit split, write conversion/calibration.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from conversion import conf
from conversion.evaluation.runner import EVAL_PATH, Report, evaluate, fit, load_cases
from conversion.scoring import CALIBRATION_PATH, calibration_load

GOAL_ACCURACY = 0.9
GOAL_ECE = 0.05


class Command(BaseCommand):
    help = "Accuracy at confidence thresholds, coverage and calibration error of FNSKU conversion."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fit", action="store_true", help="Refit the model on the fit split and save it."
        )
        parser.add_argument("--cases", default=str(EVAL_PATH), help="The evaluation set (CSV).")
        parser.add_argument("--calibration", default=str(CALIBRATION_PATH), help="The model file.")
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        cases = load_cases(Path(options["cases"]))
        fit_cases = [c for c in cases if c.split == "fit"]
        held_out = [c for c in cases if c.split == "heldout"]
        path = Path(options["calibration"])
        if options["fit"]:
            model = fit(fit_cases)
            path.write_text(json.dumps(model.to_dict(), indent=2) + "\n")
            calibration_load.cache_clear()
            self.stderr.write(f"Fitted on {len(fit_cases)} cases; written to {path}.")
        model = calibration_load(path)
        minimum = conf.conversion_settings().min_confidence
        reports = [
            evaluate(fit_cases, model, min_confidence=minimum, split="fit"),
            evaluate(held_out, model, min_confidence=minimum, split="heldout"),
        ]
        if options["json"]:
            self.stdout.write(json.dumps([_as_dict(r) for r in reports], indent=2))
            return
        self.stdout.write(f"FNSKU conversion on {Path(options['cases']).name} ({len(cases)} cases)")
        self.stdout.write(
            f"Model: {path.name}, {model.fitted_on}; answers below {minimum} are refused (404).\n"
        )
        for report in reports:
            self._print(report)
        held = reports[1]
        row = held.row(0.9)
        met = (row.accuracy or 0) >= GOAL_ACCURACY and held.ece < GOAL_ECE
        self.stdout.write(
            f"Goal (held-out): >= {GOAL_ACCURACY:.0%} correct at confidence >= 0.9 and ECE < {GOAL_ECE}: "
            + (self.style.SUCCESS("met") if met else self.style.ERROR("NOT met"))
        )

    def _print(self, report: Report) -> None:
        w = self.stdout.write
        w(
            f"== {report.split} split: {report.cases} cases, {report.answered} answered, "
            f"{report.correct} right, "
            f"{report.abstained_rightly} rightly refused (no such product)"
        )
        w("  threshold  answered  coverage  accuracy")
        for row in report.rows:
            accuracy = f"{row.accuracy:.3f}" if row.accuracy is not None else "   -"
            w(f"  >= {row.threshold:<6} {row.answered:>8}  {row.coverage:>8.3f}  {accuracy:>8}")
        w(f"  expected calibration error (10 bins, answers given): {report.ece:.4f}")
        w("  bin        answers  mean confidence  accuracy")
        for b in report.bins:
            if b.count:
                w(f"  {b.low:.1f}-{b.high:.1f}  {b.count:>8}  {b.mean_confidence:>15.3f}  {b.accuracy:>8.3f}")
        w(
            "  by kind (cases, answered, right): "
            + ", ".join(f"{k} {v}" for k, v in sorted(report.by_kind.items()))
        )
        w("")


def _as_dict(report: Report) -> dict[str, Any]:
    return {
        "split": report.split,
        "cases": report.cases,
        "answered": report.answered,
        "correct": report.correct,
        "ece": round(report.ece, 4),
        "thresholds": [
            {
                "threshold": r.threshold,
                "answered": r.answered,
                "coverage": round(r.coverage, 4),
                "accuracy": round(r.accuracy, 4) if r.accuracy is not None else None,
            }
            for r in report.rows
        ],
    }
