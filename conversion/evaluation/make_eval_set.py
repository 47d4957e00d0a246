"""Generate conversion/evaluation/fnsku_eval.csv, the synthetic set (run once; seeded).

A unit test of the evaluation machinery only: its cases are made by this code over
the sandbox's own titles, so figures on it are not results. The figures come from
real_labels.py (real amazon.com titles); its mapping kinds reuse ``Generator`` and
``ASSUMPTIONS`` from here.

    .venv/bin/python -m conversion.evaluation.make_eval_set

Every case is built over the sandbox provider's sample catalogue
(products/providers/sandbox.py ``catalogue``), so the evaluation runs offline
and the same everywhere. What the generator assumes about the world is in
``ASSUMPTIONS`` below and in docs/fnsku.md: the calibration is only as good as
these assumptions are true, and is to be refitted on real confirmed
conversions (ConversionFeedback) as they accumulate.

Columns: case_id, split (fit or heldout, alternating within each kind),
kind, fnsku, marketplace, label_text, truth_asin (empty: the product is not in
the catalogue, so every answer is wrong), mappings (JSON: what the mapping
store holds for the FNSKU: source, asin, own, age_days, times_seen,
times_confirmed, times_rejected) and note.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from products.providers import sandbox

SEED = 20260601
OUTPUT = Path(__file__).resolve().parent / "fnsku_eval.csv"
COLUMNS = (
    "case_id",
    "split",
    "kind",
    "fnsku",
    "marketplace",
    "label_text",
    "truth_asin",
    "mappings",
    "note",
)

# How many cases of each kind (1,200 in all: 600 to fit, 600 held out).
KINDS = {
    "stickerless": 96,
    "fba_inventory": 120,
    "inventory_report": 96,
    "community": 180,
    "own_confirmed": 48,
    "learned": 120,
    "label_only": 480,
    "no_match": 60,
}

# What the generator assumes about the sources (see docs/fnsku.md).
ASSUMPTIONS = {
    # Share of shared confirmations that name the wrong ASIN, by number of confirming users.
    "community_wrong": {1: 0.15, 2: 0.07, 3: 0.03, 4: 0.02},
    # Share of community cases where a second, competing ASIN also has a confirmation.
    "community_competing": 0.2,
    "own_confirmed_wrong": 0.03,
    # Learnt answers (an earlier catalogue search) that were wrong: more for old ones.
    "learned_wrong_recent": 0.15,
    "learned_wrong_old": 0.3,
    # Share of cases of each kind that come with the label's printed text.
    "label_rate": {
        "stickerless": 0.5,
        "fba_inventory": 0.5,
        "inventory_report": 0.5,
        "community": 0.6,
        "own_confirmed": 0.5,
        "learned": 0.7,
        "label_only": 1.0,
        "no_match": 1.0,
    },
}

CONDITIONS = ("New", "New", "New", "Used - Like New", "Used - Very Good", "Refurbished", "NEW")
# Character confusions of worn labels and OCR: some are folded away by normalisation, some not.
OCR_CONFUSIONS = {
    "o": "0",
    "O": "0",
    "l": "1",
    "I": "1",
    "i": "1",
    "s": "5",
    "S": "5",
    "B": "8",
    "m": "rn",
    "e": "c",
    "a": "o",
    "h": "b",
    "n": "h",
}
FOREIGN_BRANDS = ("Globex", "Initech", "Umbrella", "Hooli", "Vandelay")
FOREIGN_NOUNS = ("Garlic Press", "Phone Case", "Bath Towel", "Coffee Grinder", "Shower Head", "Bike Light")
_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def parse_title(title: str) -> dict[str, str]:
    """Brand, adjective, noun and variant of a sandbox title (``[SAMPLE] B A N, V``)."""
    body = title.removeprefix("[SAMPLE] ")
    left, _, variant = body.rpartition(", ")
    brand = next(b for b in sandbox.BRANDS if left.startswith(b + " "))
    noun = next(n for n, _ in sandbox.PRODUCTS if left.endswith(" " + n))
    adjective = left[len(brand) + 1 : len(left) - len(noun) - 1]
    return {"brand": brand, "adjective": adjective, "noun": noun, "variant": variant}


class Generator:
    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - evaluation data, not security
        self.catalogue = list(sandbox.catalogue())
        self.titles = dict(self.catalogue)
        self.parts = {asin: parse_title(title) for asin, title in self.catalogue}
        self.used_fnskus: set[str] = set()

    # --- pieces -------------------------------------------------------------------------------

    def fnsku(self) -> str:
        while True:
            code = "X00" + "".join(self.rng.choice(_CHARS) for _ in range(7))
            if code not in self.used_fnskus:
                self.used_fnskus.add(code)
                return code

    def product(self) -> str:
        return self.rng.choice(self.catalogue)[0]

    def lookalike(self, asin: str) -> str:
        """Another catalogue product of the same brand and kind (a colour, a size, another model)."""
        mine = self.parts[asin]
        same = [
            a
            for a, p in self.parts.items()
            if a != asin and p["brand"] == mine["brand"] and p["noun"] == mine["noun"]
        ]
        return self.rng.choice(same) if same else self.product()

    def ocr(self, text: str, rate: float) -> str:
        out = []
        for char in text:
            if char in OCR_CONFUSIONS and self.rng.random() < rate:
                out.append(OCR_CONFUSIONS[char])
            else:
                out.append(char)
        return "".join(out)

    def label(self, title: str) -> tuple[str, list[str]]:
        """A label's printed text for a product titled ``title``, and what was done to it."""
        rng = self.rng
        parts = parse_title(title) if title.startswith("[SAMPLE]") else None
        text = title.removeprefix("[SAMPLE] ")
        done = []
        if parts and rng.random() < 0.15:
            text = text[len(parts["brand"]) + 1 :]
            done.append("no brand")
        if rng.random() < 0.5:
            cut = rng.randint(min(len(text), 14), len(text))
            if cut < len(text):
                text = text[:cut].rstrip() + rng.choice(("...", "…", ""))
                done.append("truncated")
        if rng.random() < 0.3:
            text = self.ocr(text, rng.uniform(0.03, 0.12))
            done.append("ocr")
        if rng.random() < 0.25:
            text = text.upper()
            done.append("upper")
        if rng.random() < 0.6:
            condition = rng.choice(CONDITIONS)
            text = f"{condition} {text}" if rng.random() < 0.15 else f"{text} {condition}"
            done.append("condition")
        return text, done

    def maybe_label(self, kind: str, asin: str) -> tuple[str, list[str]]:
        if self.rng.random() < ASSUMPTIONS["label_rate"][kind]:  # type: ignore[index]
            return self.label(self.titles[asin])
        return "", []

    def mapping(self, source: str, asin: str, *, own: bool, age_days: int, **counts: int) -> dict[str, Any]:
        return {"source": source, "asin": asin, "own": own, "age_days": age_days, **counts}

    # --- kinds --------------------------------------------------------------------------------

    def stickerless(self) -> dict[str, Any]:
        truth = self.product()
        label, done = self.maybe_label("stickerless", truth)
        return {"fnsku": truth, "truth_asin": truth, "label_text": label, "mappings": [], "note": done}

    def own_mapping_case(self, kind: str, source: str, max_age: int) -> dict[str, Any]:
        truth = self.product()
        label, done = self.maybe_label(kind, truth)
        rows = [self.mapping(source, truth, own=True, age_days=self.rng.randint(0, max_age))]
        return {
            "fnsku": self.fnsku(),
            "truth_asin": truth,
            "label_text": label,
            "mappings": rows,
            "note": done,
        }

    def fba_inventory(self) -> dict[str, Any]:
        return self.own_mapping_case("fba_inventory", "fba_inventory", 30)

    def inventory_report(self) -> dict[str, Any]:
        return self.own_mapping_case("inventory_report", "inventory_report", 400)

    def community(self) -> dict[str, Any]:
        rng = self.rng
        truth = self.product()
        confirmers = rng.choice((1, 1, 1, 2, 2, 3, 4))
        wrong = rng.random() < ASSUMPTIONS["community_wrong"][confirmers]  # type: ignore[index]
        named = (
            self.lookalike(truth) if wrong and rng.random() < 0.7 else (self.product() if wrong else truth)
        )
        rows = [
            self.mapping(
                "confirmed",
                named,
                own=False,
                age_days=rng.randint(0, 500),
                times_confirmed=confirmers,
                times_rejected=0,
            )
        ]
        note = [f"{confirmers} confirmers", "wrong" if wrong else "right"]
        if rng.random() < ASSUMPTIONS["community_competing"]:  # type: ignore[operator]
            other = truth if wrong else self.lookalike(truth)
            rows.append(
                self.mapping(
                    "confirmed",
                    other,
                    own=False,
                    age_days=rng.randint(0, 500),
                    times_confirmed=1,
                    times_rejected=0,
                )
            )
            note.append("competing")
        label, done = self.maybe_label("community", truth)
        return {
            "fnsku": self.fnsku(),
            "truth_asin": truth,
            "label_text": label,
            "mappings": rows,
            "note": note + done,
        }

    def own_confirmed(self) -> dict[str, Any]:
        truth = self.product()
        wrong = self.rng.random() < ASSUMPTIONS["own_confirmed_wrong"]  # type: ignore[operator]
        named = self.lookalike(truth) if wrong else truth
        rows = [
            self.mapping("confirmed", named, own=True, age_days=self.rng.randint(0, 300), times_confirmed=1)
        ]
        label, done = self.maybe_label("own_confirmed", truth)
        note = ["wrong" if wrong else "right", *done]
        return {
            "fnsku": self.fnsku(),
            "truth_asin": truth,
            "label_text": label,
            "mappings": rows,
            "note": note,
        }

    def learned(self) -> dict[str, Any]:
        rng = self.rng
        truth = self.product()
        age = rng.randint(0, 700)
        rate = ASSUMPTIONS["learned_wrong_old" if age > 365 else "learned_wrong_recent"]
        wrong = rng.random() < rate  # type: ignore[operator]
        named = self.lookalike(truth) if wrong else truth
        rows = [
            self.mapping("provider", named, own=False, age_days=age, times_seen=rng.choice((1, 1, 2, 3, 5)))
        ]
        label, done = self.maybe_label("learned", truth)
        note = ["wrong" if wrong else "right", *done]
        return {
            "fnsku": self.fnsku(),
            "truth_asin": truth,
            "label_text": label,
            "mappings": rows,
            "note": note,
        }

    def label_only(self) -> dict[str, Any]:
        truth = self.product()
        label, done = self.label(self.titles[truth])
        return {"fnsku": self.fnsku(), "truth_asin": truth, "label_text": label, "mappings": [], "note": done}

    def no_match(self) -> dict[str, Any]:
        rng = self.rng
        titles = set(self.titles.values())
        if rng.random() < 0.5:
            # Made of the catalogue's own words, but not a product in it: the hardest look-alike.
            while True:
                brand = rng.choice(sandbox.BRANDS)
                noun = rng.choice(sandbox.PRODUCTS)[0]
                adjective, variant = rng.choice(sandbox.ADJECTIVES), rng.choice(sandbox.VARIANTS)
                title = f"[SAMPLE] {brand} {adjective} {noun}, {variant}"
                if title not in titles:
                    break
            note = ["catalogue words"]
        else:
            title = (
                f"[SAMPLE] {rng.choice(FOREIGN_BRANDS)} {rng.choice(sandbox.ADJECTIVES)} "
                f"{rng.choice(FOREIGN_NOUNS)}, {rng.choice(sandbox.VARIANTS)}"
            )
            note = ["other products"]
        text = title.removeprefix("[SAMPLE] ")
        if rng.random() < 0.6:
            text += " " + rng.choice(CONDITIONS)
        return {"fnsku": self.fnsku(), "truth_asin": "", "label_text": text, "mappings": [], "note": note}

    def cases(self) -> list[dict[str, Any]]:
        rows = []
        for kind, count in KINDS.items():
            make: Callable[[], dict[str, Any]] = getattr(self, kind)
            for i in range(count):
                case = make()
                case.update(kind=kind, marketplace="US", split="fit" if i % 2 == 0 else "heldout")
                rows.append(case)
        self.rng.shuffle(rows)
        for number, case in enumerate(rows, start=1):
            case["case_id"] = f"C{number:04d}"
        return rows


def write(path: Path = OUTPUT, seed: int = SEED) -> int:
    cases = Generator(seed).cases()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for case in cases:
            writer.writerow(
                {
                    **{k: case[k] for k in COLUMNS if k not in ("mappings", "note")},
                    "mappings": json.dumps(case["mappings"], separators=(",", ":")),
                    "note": ";".join(case["note"]),
                }
            )
    return len(cases)


if __name__ == "__main__":
    import django

    django.setup()
    print(f"{write()} cases written to {OUTPUT}")
