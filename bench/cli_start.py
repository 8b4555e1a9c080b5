"""Start time of ``antt --help``, against a bare ``python -c pass`` measured in the same run.

``python -m bench.cli_start [-n 15]`` runs each command N times in fresh processes,
alternating them so both see the same machine load, and prints the medians; the
last line is JSON: ``{"antt_help_median_s": ..., "python_baseline_median_s": ...,
"target_s": 1.0, "ok": true}``. The target (DESIGN.md, issue 2) is under 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

TARGET_S = 1.0


def time_run(command: Sequence[str]) -> float:
    """Wall time of one run of ``command`` (output discarded; a failure is an error)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(n: int) -> dict[str, object]:
    antt = [sys.executable, "-m", "bot", "--help"]
    baseline = [sys.executable, "-c", "pass"]
    time_run(antt)  # warm the file cache once; not counted
    antt_times: list[float] = []
    base_times: list[float] = []
    for _ in range(n):
        antt_times.append(time_run(antt))
        base_times.append(time_run(baseline))
    antt_median = statistics.median(antt_times)
    return {
        "antt_help_median_s": round(antt_median, 4),
        "antt_help_max_s": round(max(antt_times), 4),
        "python_baseline_median_s": round(statistics.median(base_times), 4),
        "runs": n,
        "target_s": TARGET_S,
        "ok": antt_median < TARGET_S,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=15, help="runs of each command (default 15)")
    args = parser.parse_args(argv)
    result = measure(max(1, args.n))
    print(f"antt --help      median {result['antt_help_median_s']:.3f} s over {args.n} runs")
    print(f"python -c pass   median {result['python_baseline_median_s']:.3f} s (baseline)")
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
