"""The FNSKU evaluation set made from real amazon.com listings (data/amazon-us-products-2023.csv).

Nothing here is fitted or tuned: it only says what a reseller holds (a label)
and what the world holds (a catalogue). Deterministic for a given seed.

- **Families.** Each real product is a family. A seeded shuffle splits the
  families into *fit* and *held-out* halves (by product, so no product, and
  none of its variants, is on both sides), and keeps 12 % of each half out of
  the catalogue: their labels are of products the search cannot find.
- **Look-alike variants.** About a third of the catalogued families whose
  title has a colour, a size or a count get one or two siblings: the same
  title with that word swapped ("..., Navy Blue" -> "..., Charcoal";
  "25-Inch" -> "29-Inch"; "Pack of 6" -> "Pack of 12"), listed as distinct
  ASINs, as real Amazon variation families are. The vocabulary here is the
  generator's own, not the scorer's (conversion/scoring.py).
- **Labels.** As an FBA label prints them: the title cut in the *middle* to the
  label's width ("first words...last words"), then the condition ("New",
  "Used - Like New", ...). Some carry OCR-like damage (0/O, 1/l, rn/m).
- **Cases.** Per split: label text only (the reseller's case), products not in
  the catalogue, and, so the model also learns what the mapping store's
  sources are worth, the synthetic generator's mapping kinds (FBA inventory,
  inventory reports, community confirmations, learnt answers; their error
  rates are make_eval_set.py's ``ASSUMPTIONS``) over these real products.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conversion.evaluation.make_eval_set import Generator

DATA_PATH = Path(__file__).resolve().parent / "data" / "amazon-us-products-2023.csv"
SEED = 20261207
NOT_IN_CATALOGUE_SHARE = 0.12
VARIANT_SHARE = 0.35
# Characters a label holds on one line pair (2.625 x 1 in label, title in two lines of small type).
LABEL_WIDTHS = (48, 52, 56, 60, 64, 70)
LABEL_CONDITIONS = (
    *("New",) * 12,
    "Used - Like New",
    "Used - Like New",
    "Used - Very Good",
    "Used - Good",
    "Used - Acceptable",
)
OCR_SHARE = 0.3
# The confusions of a worn label read by OCR (each both ways).
OCR_SWAPS = (("0", "O"), ("O", "0"), ("1", "l"), ("l", "1"), ("rn", "m"), ("m", "rn"))

# Cases per split, by kind.
KINDS = {
    "label_only": 320,
    "not_in_catalogue": 60,
    "fba_inventory": 40,
    "inventory_report": 30,
    "community": 70,
    "own_confirmed": 20,
    "learned": 50,
    "stickerless": 16,
}
# The reseller's case: nothing but the label (no mapping, not a B0 code).
LABEL_ONLY_KINDS = frozenset({"label_only", "not_in_catalogue"})

_GEN_COLOURS = (
    "Black", "White", "Blue", "Red", "Green", "Grey", "Gray", "Pink", "Purple", "Yellow", "Orange",
    "Brown", "Beige", "Navy", "Silver", "Gold", "Teal", "Charcoal", "Burgundy", "Olive", "Khaki",
)  # fmt: skip
_GEN_SIZES = ("Small", "Medium", "Large", "X-Large", "XL", "Queen", "King", "Twin", "Full")
_COLOUR_RE = re.compile(r"\b(" + "|".join(_GEN_COLOURS) + r")\b", re.IGNORECASE)
_SIZE_WORD_RE = re.compile(r"\b(" + "|".join(re.escape(s) for s in _GEN_SIZES) + r")\b")
_MEASURE_RE = re.compile(
    r"\b(\d+(?:\.\d+)?)(\s?-?\s?)(oz|ounces?|inch(?:es)?|in|ft|feet|lbs?|pounds?|ml|gallons?|qt|mm|cm)\b",
    re.IGNORECASE,
)
_COUNT_RE = re.compile(
    r"\b(\d+)(\s?-?\s?)(pack|count|ct|pcs|pieces)\b|\b(pack|set) of (\d+)\b", re.IGNORECASE
)
_ASIN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class Listing:
    asin: str
    title: str
    family: str  # the real product's ASIN
    derived: str = ""  # what was swapped to make this look-alike ("" for the real listing)


@dataclass(frozen=True)
class RealCatalogue:
    """The listings a search can find (both splits: a catalogue search is not split) and the
    families of each split, catalogued or not."""

    listings: tuple[Listing, ...]
    families: dict[str, str]  # family -> "fit" or "heldout"
    uncatalogued: dict[str, str]  # family -> title, for families kept out of the catalogue

    def titles(self) -> dict[str, str]:
        return {listing.asin: listing.title for listing in self.listings}


def load_products(path: Path = DATA_PATH) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["asin"], row["title"]) for row in csv.DictReader(handle) if row["title"].strip()]


def _same_case(template: str, word: str) -> str:
    if template.isupper():
        return word.upper()
    if template.islower():
        return word.lower()
    return word


def variant_swaps(title: str, rng: random.Random) -> list[tuple[str, str]]:
    """Possible look-alike titles of ``title``: (new title, what changed), one word swapped each."""
    out: list[tuple[str, str]] = []
    colours = _COLOUR_RE.search(title)
    if colours:
        old = colours.group(1)
        new = rng.choice([c for c in _GEN_COLOURS if c.lower() != old.lower()])
        out.append((title[: colours.start(1)] + _same_case(old, new) + title[colours.end(1) :], "colour"))
    size = _SIZE_WORD_RE.search(title)
    if size:
        old = size.group(1)
        new = rng.choice([s for s in _GEN_SIZES if s.lower() != old.lower()])
        out.append((title[: size.start(1)] + new + title[size.end(1) :], "size"))
    measure = _MEASURE_RE.search(title)
    if measure:
        value = float(measure.group(1))
        factor = rng.choice((0.5, 1.5, 2.0, 3.0))
        new_value = f"{value * factor:g}" if value * factor != value else f"{value + 1:g}"
        out.append((title[: measure.start(1)] + new_value + title[measure.end(1) :], "size"))
    count = _COUNT_RE.search(title)
    if count:
        group = 1 if count.group(1) else 5
        units = int(count.group(group))
        new_units = rng.choice([n for n in (1, 2, 3, 4, 6, 8, 10, 12, 24, 36, 48) if n != units])
        out.append((title[: count.start(group)] + str(new_units) + title[count.end(group) :], "count"))
    return out


def build_catalogue(
    products: Sequence[tuple[str, str]], *, seed: int = SEED, families: int | None = None
) -> RealCatalogue:
    """Split the families, keep some out of the catalogue, add look-alike variants.

    ``families``: use only this many products (a small, fast sample for tests)."""
    rng = random.Random(seed)  # noqa: S311 - evaluation data, not security
    pool = list(products)
    rng.shuffle(pool)
    if families is not None:
        pool = pool[:families]
    real_asins = {asin for asin, _ in products}
    used = set(real_asins)
    listings: list[Listing] = []
    split_of: dict[str, str] = {}
    uncatalogued: dict[str, str] = {}
    for index, (asin, title) in enumerate(pool):
        split = "fit" if index % 2 == 0 else "heldout"
        split_of[asin] = split
        if rng.random() < NOT_IN_CATALOGUE_SHARE:
            uncatalogued[asin] = title
            continue
        listings.append(Listing(asin=asin, title=title, family=asin))
        swaps = variant_swaps(title, rng)
        if swaps and rng.random() < VARIANT_SHARE:
            rng.shuffle(swaps)
            for new_title, changed in swaps[: rng.choice((1, 1, 2))]:
                if new_title == title:
                    continue
                while True:
                    derived = "B0" + "".join(rng.choice(_ASIN_CHARS) for _ in range(8))
                    if derived not in used:
                        used.add(derived)
                        break
                listings.append(Listing(asin=derived, title=new_title, family=asin, derived=changed))
    return RealCatalogue(tuple(listings), split_of, uncatalogued)


def middle_cut(title: str, width: int) -> str:
    """The title as an FBA label prints it: whole if it fits, else its first and last words
    around "..." within ``width`` characters."""
    title = " ".join(title.split())
    if len(title) <= width:
        return title
    words = title.split()
    head_budget = (width - 3) * 3 // 5
    head: list[str] = []
    for word in words:
        if len(" ".join([*head, word])) > head_budget:
            break
        head.append(word)
    tail: list[str] = []
    tail_budget = width - 3 - len(" ".join(head))
    for word in reversed(words[len(head) :]):
        if len(" ".join([word, *tail])) > tail_budget:
            break
        tail.insert(0, word)
    return " ".join(head) + "..." + " ".join(tail)


class RealLabelGenerator(Generator):
    """make_eval_set's kinds of case over the real catalogue, with labels printed as FBA prints them."""

    def __init__(self, catalogue: RealCatalogue, seed: int = SEED) -> None:
        self.rng = random.Random(seed + 1)  # noqa: S311 - evaluation data, not security
        self.real = catalogue
        self.titles = catalogue.titles()
        self.family_of = {listing.asin: listing.family for listing in catalogue.listings}
        self.siblings: dict[str, list[str]] = {}
        for listing in catalogue.listings:
            self.siblings.setdefault(listing.family, []).append(listing.asin)
        self.used_fnskus: set[str] = set()
        self.pool: list[str] = []
        self.outside: list[str] = []

    def use_split(self, split: str) -> None:
        families = {f for f, s in self.real.families.items() if s == split}
        self.pool = [listing.asin for listing in self.real.listings if listing.family in families]
        self.outside = [f for f in self.real.uncatalogued if f in families]

    def product(self) -> str:
        return self.rng.choice(self.pool)

    def lookalike(self, asin: str) -> str:
        """A sibling variant when the family has one, else another product of the split."""
        siblings = [a for a in self.siblings[self.family_of[asin]] if a != asin]
        if siblings:
            return self.rng.choice(siblings)
        while True:
            other = self.product()
            if other != asin:
                return other

    def ocr_damage(self, text: str) -> str:
        rate = self.rng.uniform(0.08, 0.25)
        for old, new in OCR_SWAPS:
            parts = text.split(old)
            if len(parts) == 1:
                continue
            text = parts[0] + "".join((new if self.rng.random() < rate else old) + part for part in parts[1:])
        return text

    def label(self, title: str) -> tuple[str, list[str]]:
        width = self.rng.choice(LABEL_WIDTHS)
        text = middle_cut(title, width)
        done = ["middle cut"] if "..." in text and "..." not in title else []
        if self.rng.random() < OCR_SHARE:
            damaged = self.ocr_damage(text)
            if damaged != text:
                text = damaged
                done.append("ocr")
        condition = self.rng.choice(LABEL_CONDITIONS)
        return f"{text} {condition}", [*done, "condition"]

    def label_only(self) -> dict[str, Any]:
        case = super().label_only()
        listing_kind = "variant" if len(self.siblings[self.family_of[case["truth_asin"]]]) > 1 else "single"
        case["note"] = [listing_kind, *case["note"]]
        return case

    def stickerless(self) -> dict[str, Any]:
        truth = self.rng.choice([asin for asin in self.pool if asin.startswith("B0")])
        label, done = self.maybe_label("stickerless", truth)
        return {"fnsku": truth, "truth_asin": truth, "label_text": label, "mappings": [], "note": done}

    def not_in_catalogue(self) -> dict[str, Any]:
        family = self.rng.choice(self.outside)
        label, done = self.label(self.real.uncatalogued[family])
        return {"fnsku": self.fnsku(), "truth_asin": "", "label_text": label, "mappings": [], "note": done}

    def split_cases(self, split: str, kinds: dict[str, int]) -> list[dict[str, Any]]:
        self.use_split(split)
        rows = []
        for kind, count in kinds.items():
            if kind == "not_in_catalogue" and not self.outside:
                continue
            make: Callable[[], dict[str, Any]] = getattr(self, kind)
            for _ in range(count):
                case = make()
                case.update(kind=kind, marketplace="US", split=split)
                rows.append(case)
        return rows


def real_label_cases(
    *, seed: int = SEED, families: int | None = None, kinds: dict[str, int] | None = None
) -> tuple[RealCatalogue, list[dict[str, Any]]]:
    """The catalogue and the cases (dicts with make_eval_set's columns), fit split first."""
    products = load_products()
    catalogue = build_catalogue(products, seed=seed, families=families)
    if kinds is None:
        # A sample of the products gets as many cases per product as the whole set.
        share = min(1.0, (families or len(products)) / len(products))
        kinds = {kind: max(2, round(count * share)) for kind, count in KINDS.items()}
    generator = RealLabelGenerator(catalogue, seed=seed)
    rows = generator.split_cases("fit", kinds) + generator.split_cases("heldout", kinds)
    for number, case in enumerate(rows, start=1):
        case["case_id"] = f"R{number:04d}"
    return catalogue, rows
