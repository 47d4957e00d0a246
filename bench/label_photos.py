"""Label photos: FNSKU read rate, title characters recognised, end-to-end precision.

    .venv/bin/python bench/label_photos.py [--labels 300] [--seed 21] [--json]

Takes the held-out label-only cases of the real-label evaluation set (``manage.py eval_fnsku``'s:
real amazon.com titles the shipped model was not fitted on, look-alike variants in the catalogue,
products not in it), prints each case's label as an FBA label prints it (2.625 x 1 inch at 300 dpi,
Code 128 of the FNSKU, the title cut in the middle to the label's width, the condition;
conversion/evaluation/label_images.py), photographs it (a margin, up to 5 degrees of rotation,
blur, JPEG) and reads the photo with conversion/labels.py, as ``POST .../fnsku/label`` does. What
was read then goes through the conversion pipeline (catalogue search through the SP-API adapter
against the searchCatalogItems stand-in, the shipped model conversion/calibration.json), and so do
the same labels typed exactly, for comparison. Prints:

- the FNSKU read rate (the barcode's code, exactly) and the condition read rate;
- title characters recognised: 1 - (edit distance / printed length), summed over the labels;
- end to end: precision and coverage at confidence >= 0.9, from photos and from typed labels.

Needs no database or Redis; needs tesseract-ocr. The labels are rendered here, so the read rate
is a measure of the reader on clean prints, not on worn labels or poor light.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import random
import sys
import time
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
warnings.simplefilter("ignore")

import django  # noqa: E402

django.setup()

from rapidfuzz.distance import Levenshtein  # noqa: E402

from conversion import conf  # noqa: E402
from conversion.evaluation.label_images import TITLE_CHARS, Label, photo, render_label  # noqa: E402
from conversion.evaluation.real_labels import LABEL_ONLY_KINDS, middle_cut  # noqa: E402
from conversion.evaluation.runner import Outcome, real_set, real_sources, run_all  # noqa: E402
from conversion.labels import CONDITIONS, label_read  # noqa: E402
from conversion.scoring import CALIBRATION_PATH, Calibration  # noqa: E402
from core.errors import DomainError  # noqa: E402

RESOLVED = 0.9


def printed(label_text: str) -> tuple[str, str]:
    """The case's label text as a 2.625 inch label prints it: (title, condition)."""
    for condition in CONDITIONS:
        if label_text.endswith(" " + condition):
            return middle_cut(label_text[: -len(condition) - 1], TITLE_CHARS), condition
    return middle_cut(label_text, TITLE_CHARS), "New"


def end_to_end(outcomes: list[Outcome]) -> dict[str, float | int]:
    confident = [o for o in outcomes if o.confidence is not None and o.confidence >= RESOLVED]
    catalogued = [o for o in outcomes if o.case.truth_asin]
    right = sum(o.correct for o in confident)
    return {
        "answered_at_0.9": len(confident),
        "precision_at_0.9": round(right / len(confident), 4) if confident else 0.0,
        "coverage_at_0.9": round(right / len(catalogued), 4) if catalogued else 0.0,
        "wrong_variants_at_0.9": sum(o.wrong_variant for o in confident),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=int, default=300, help="labels to photograph (held-out cases)")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    data = real_set()
    cases = [c for c in data.cases if c.split == "heldout" and c.kind in LABEL_ONLY_KINDS]
    cases = rng.sample(cases, min(args.labels, len(cases)))
    model = Calibration.from_dict(json.loads(CALIBRATION_PATH.read_text()))

    fnsku_ok = condition_ok = refused = 0
    chars_printed = chars_right = 0
    read_cases, typed_cases = [], []
    started = time.perf_counter()
    for case in cases:
        title, condition = printed(case.label_text)
        typed_cases.append(dataclasses.replace(case, label_text=title))
        image = photo(render_label(Label(case.fnsku, title, condition)), rng=rng)
        try:
            reading = label_read(file=io.BytesIO(image))
        except DomainError:
            refused += 1
            continue
        fnsku_ok += reading.fnsku == case.fnsku
        condition_ok += reading.condition == condition
        chars_printed += len(title)
        chars_right += max(0, len(title) - Levenshtein.distance(reading.title, title))
        read_cases.append(dataclasses.replace(case, fnsku=reading.fnsku, label_text=reading.title))
    seconds = time.perf_counter() - started

    minimum = conf.conversion_settings().min_confidence
    with real_sources(data.catalogue) as sources_for:
        from_photos = run_all(
            read_cases, model, min_confidence=minimum, sources_for=sources_for, family_of=data.family_of
        )
        typed = run_all(
            typed_cases, model, min_confidence=minimum, sources_for=sources_for, family_of=data.family_of
        )
    # A photo refused is no answer: its case counts in the coverage, never in the precision.
    missing = [c for c in typed_cases if c.case_id not in {r.case_id for r in read_cases}]
    from_photos += [Outcome(c, None, False, False) for c in missing]
    figures = {
        "labels": len(cases),
        "refused": refused,
        "fnsku_read_rate": round(fnsku_ok / len(cases), 4),
        "condition_read_rate": round(condition_ok / len(cases), 4),
        "title_chars_recognised": round(chars_right / chars_printed, 4) if chars_printed else 0.0,
        "seconds_per_photo": round(seconds / len(cases), 3),
        "from_photos": end_to_end(from_photos),
        "typed_exactly": end_to_end(typed),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"labels photographed      {figures['labels']} (refused: {refused})")
    print(f"FNSKU read rate          {figures['fnsku_read_rate']:.2%}")
    print(f"condition read rate      {figures['condition_read_rate']:.2%}")
    print(f"title chars recognised   {figures['title_chars_recognised']:.2%}")
    print(f"seconds per photo        {figures['seconds_per_photo']}")
    for name in ("from_photos", "typed_exactly"):
        e = figures[name]
        assert isinstance(e, dict)
        print(
            f"{name:<24} precision@0.9 {e['precision_at_0.9']:.2%}  coverage@0.9 {e['coverage_at_0.9']:.2%}"
            f"  answered {e['answered_at_0.9']}  wrong variants {e['wrong_variants_at_0.9']}"
        )


if __name__ == "__main__":
    main()
