"""Summarise locust's CSV: requests/s, p50/p95/p99 and errors per request type.

    python loadtest/report.py DIR     # reads DIR/locust_stats.csv, writes summary.json

Exit status 1 if any request failed (the load test's budget is zero errors).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main() -> int:
    out = Path(sys.argv[1])
    with (out / "locust_stats.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    summary = {}
    lines = [
        f"{'request':<16}{'count':>8}{'errors':>8}{'req/s':>9}"
        f"{'p50':>7}{'p95':>7}{'p99':>7}  (ms)"
    ]
    for row in rows:
        name = row["Name"]
        figures = {
            "requests": int(row["Request Count"]),
            "errors": int(row["Failure Count"]),
            "requests_per_s": round(float(row["Requests/s"]), 1),
            "p50_ms": float(row["50%"]),
            "p95_ms": float(row["95%"]),
            "p99_ms": float(row["99%"]),
        }
        summary[name] = figures
        lines.append(
            f"{name:<16}{figures['requests']:>8}{figures['errors']:>8}"
            f"{figures['requests_per_s']:>9}{figures['p50_ms']:>7g}"
            f"{figures['p95_ms']:>7g}{figures['p99_ms']:>7g}"
        )
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(lines))
    failures = out / "locust_failures.csv"
    if failures.exists():
        print(failures.read_text().strip()[:2000])
    return 1 if summary.get("Aggregated", {}).get("errors", 1) else 0


if __name__ == "__main__":
    sys.exit(main())
