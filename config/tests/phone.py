"""Pages on a phone (390 px wide): what sticks out sideways."""

from __future__ import annotations

from typing import Any

# What sticks out sideways past the viewport, tables aside: every table sits in a
# <div class="table-scroll">, which scrolls on its own; and the page as a whole must not scroll
# sideways.
_SIDEWAYS = """(() => {
  const wide = (e) => e.getBoundingClientRect().right > window.innerWidth + 1;
  const outside = [...document.querySelectorAll("body *")]
    .filter((e) => !e.closest(".table-scroll") && wide(e));
  const loose = [...document.querySelectorAll("table")].filter((t) => !t.closest(".table-scroll"));
  const page = document.documentElement.scrollWidth > window.innerWidth;
  return outside.map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.getAttribute("class") || ""}`)
    .concat(loose.map((t) => `table#${t.id} outside .table-scroll`))
    .concat(page ? ["the page scrolls sideways"] : []);
})()"""


def sideways(page: Any) -> list[str]:
    """The elements of ``page`` wider than its viewport (tables aside, which must each sit in a
    ``table-scroll`` wrapper), and whether the page itself scrolls sideways; empty when it fits."""
    return list(page.evaluate(_SIDEWAYS))
