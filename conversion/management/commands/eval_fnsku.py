"""FNSKU conversion measured on real labels; with --fit, refit the confidence model first.

python manage.py eval_fnsku          # figures for the fit and the held-out split
python manage.py eval_fnsku --fit    # refit on the fit split, write conversion/calibration.json

The set is conversion/evaluation/real_labels.py's (real amazon.com titles printed as
FBA labels print them); the catalogue search is the SP-API adapter against a local
searchCatalogItems stand-in (BM25). Only the fit split is used for fitting.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversion import conf
from conversion.evaluation.runner import Report, fit, label_only, real_set, real_sources, report, run_all
from conversion.scoring import CALIBRATION_PATH, Calibration, calibration_load

# The goal on held-out label-only cases (issue #21): the reseller's case.
GOAL_PRECISION = 0.97
GOAL_COVERAGE = 0.70
GOAL_ECE = 0.05
GOAL_WRONG_VARIANTS = 0
CONFIDENT = 0.9


class Command(BaseCommand):
    help = "Precision, coverage and calibration of FNSKU conversion on real labels (fit and held-out splits)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fit", action="store_true", help="Refit the model on the fit split and save it."
        )
        parser.add_argument("--calibration", default=str(CALIBRATION_PATH), help="The model file.")
        parser.add_argument(
            "--sample",
            type=int,
            default=None,
            help="Use only this many of the real products (a quick run; the figures are the full set's).",
        )
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        sample = options["sample"]
        if sample is not None and sample < 20:
            raise CommandError("--sample must be at least 20 products.")
        data = real_set(families=sample)
        fit_cases = [c for c in data.cases if c.split == "fit"]
        held_out = [c for c in data.cases if c.split == "heldout"]
        path = Path(options["calibration"])
        minimum = conf.conversion_settings().min_confidence
        with real_sources(data.catalogue) as sources_for:
            if options["fit"]:
                model = fit(
                    fit_cases,
                    sources_for=sources_for,
                    fitted_on=f"real labels, fit split ({len(fit_cases)} cases)",
                )
                path.write_text(json.dumps(model.to_dict(), indent=2) + "\n")
                calibration_load.cache_clear()
                self.stderr.write(f"Fitted on {len(fit_cases)} cases; written to {path}.")
            try:
                model = Calibration.from_dict(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError) as exc:
                raise CommandError(f"Cannot read the model {path}: {exc}") from exc
            reports = []
            for split, cases in (("fit", fit_cases), ("heldout", held_out)):
                outcomes = run_all(
                    cases, model, min_confidence=minimum, sources_for=sources_for, family_of=data.family_of
                )
                reports.append(report(outcomes, split=split))
                reports.append(report(label_only(outcomes), split=f"{split} label-only"))
        if options["json"]:
            self.stdout.write(json.dumps([_as_dict(r) for r in reports], indent=2))
            return
        self.stdout.write(
            f"FNSKU conversion on real labels: {len(data.catalogue.listings)} catalogue listings "
            f"({sum(1 for x in data.catalogue.listings if x.derived)} look-alike variants), "
            f"{len(data.catalogue.uncatalogued)} products kept out of it, {len(data.cases)} cases"
        )
        self.stdout.write(
            f"Model: {path.name}, {model.fitted_on}; answers below {minimum} are refused (404).\n"
        )
        for item in reports:
            self._print(item)
        held = reports[3]
        met = goal_met(held)
        self.stdout.write(
            f"Goal (held-out label-only): precision >= {GOAL_PRECISION} at confidence >= {CONFIDENT}, "
            f"coverage >= {GOAL_COVERAGE:.0%}, ECE <= {GOAL_ECE}, no confident wrong variant: "
            + (self.style.SUCCESS("met") if met else self.style.ERROR("NOT met"))
        )

    def _print(self, report: Report) -> None:
        w = self.stdout.write
        confident = report.row(CONFIDENT)
        precision = f"{confident.accuracy:.3f}" if confident.accuracy is not None else "-"
        w(
            f"== {report.split}: {report.cases} cases, {report.answered} answered, "
            f"{report.correct} right, {report.abstained_rightly} rightly refused (not in the catalogue)"
        )
        w(
            f"  at confidence >= {CONFIDENT}: precision {precision}, coverage {confident.coverage:.3f}; "
            f"ECE (10 bins, answers given) {report.ece:.4f}; "
            f"confident answers naming another colour/size/count: {report.confident_wrong_variants}"
        )
        w("  threshold  answered  coverage  precision")
        for row in report.rows:
            accuracy = f"{row.accuracy:.3f}" if row.accuracy is not None else "   -"
            w(f"  >= {row.threshold:<6} {row.answered:>8}  {row.coverage:>8.3f}  {accuracy:>9}")
        w("  bin        answers  mean confidence  precision")
        for b in report.bins:
            if b.count:
                w(f"  {b.low:.1f}-{b.high:.1f}  {b.count:>8}  {b.mean_confidence:>15.3f}  {b.accuracy:>9.3f}")
        w(
            "  by kind (cases, answered, right): "
            + ", ".join(f"{k} {v}" for k, v in sorted(report.by_kind.items()))
        )
        w("")


def goal_met(report: Report) -> bool:
    confident = report.row(CONFIDENT)
    return (
        (confident.accuracy or 0.0) >= GOAL_PRECISION
        and confident.coverage >= GOAL_COVERAGE
        and report.ece <= GOAL_ECE
        and report.confident_wrong_variants <= GOAL_WRONG_VARIANTS
    )


def _as_dict(report: Report) -> dict[str, Any]:
    confident = report.row(CONFIDENT)
    return {
        "split": report.split,
        "cases": report.cases,
        "answered": report.answered,
        "correct": report.correct,
        "precision_at_0_9": round(confident.accuracy, 4) if confident.accuracy is not None else None,
        "coverage_at_0_9": round(confident.coverage, 4),
        "ece": round(report.ece, 4),
        "confident_wrong_variants": report.confident_wrong_variants,
        "goal_met": goal_met(report) if report.split == "heldout label-only" else None,
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
