"""Run the wide harness over every architecture it can build: `make test-audit-wide`.

Prints one line per architecture, then the pass rate and every miss; writes the same as JSON to
the path given (default: artifacts/audit-wide.json). Exit status 0 at a pass rate of at least
99.5% with no crash, else 1.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402

GOAL = 0.995


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("artifacts/audit-wide.json")
    with tempfile.TemporaryDirectory() as folder:
        run = harness.run_all(harness.architectures(), Path(folder))
    results = run["results"]
    passed = sum(r.passed for r in results)
    crashes = [r for r in results if r.error]
    rate = passed / max(len(results), 1)
    built = sorted({r.architecture for r in results})
    print(f"\n{passed} of {len(results)} cases right ({100 * rate:.1f}%) over {len(built)} "
          f"architectures; {len(crashes)} crashes; {len(run['skipped'])} architectures could not "
          f"be built from a tiny config; {len(run['left_out'])} cases left out (no ground truth)")
    for r in results:
        if not r.passed:
            print(f"MISS {r.architecture} | {r.case} | expected {r.expected} | found {r.found}"
                  f"{' | ' + r.error if r.error else ''}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "passed": passed, "cases": len(results), "architectures": built,
        "skipped": run["skipped"], "left_out": run["left_out"],
        "misses": [vars(r) for r in results if not r.passed]}, indent=1) + "\n")
    return 0 if rate >= GOAL and not crashes else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
