"""Fail when line coverage is under the bar: `python .ci/coverage_lines.py 95`.

The suite measures branches too (pyproject.toml, [tool.coverage.run]); coverage's own
`fail_under` judges the total of lines and branches together, so the bar on lines alone,
which the platform's success criteria set, is checked here from the combined data
(`.coverage`, written by pytest-cov) through coverage's JSON report.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from coverage import Coverage


def main() -> int:
    bar = float(sys.argv[1]) if len(sys.argv) > 1 else 95.0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        coverage = Coverage()
        coverage.load()
        coverage.json_report(outfile=str(out))
        totals = json.loads(out.read_text())["totals"]
    lines = 100.0 * totals["covered_lines"] / max(totals["num_statements"], 1)
    branches = 100.0 * totals.get("covered_branches", 0) / max(totals.get("num_branches", 0), 1)
    print(
        f"Coverage: lines {lines:.2f}% ({totals['covered_lines']}/{totals['num_statements']}), "
        f"branches {branches:.2f}% ({totals.get('covered_branches', 0)}/{totals.get('num_branches', 0)}), "
        f"combined {totals['percent_covered']:.2f}%; required: lines >= {bar:g}%"
    )
    if lines < bar:
        print(f"FAIL: line coverage {lines:.2f}% is under {bar:g}%", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
