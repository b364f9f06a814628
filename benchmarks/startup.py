"""Start-up time of the CLI beside Python's own, measured side by side in one run (prints; asserts nothing).

Usage: python benchmarks/startup.py [N]   (from the repository root; N runs of each, default 20)
Targets (issue 12): `--help` <= 3x `import click`, `validate` <= 5x `import click`.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time

EXAMPLE = "examples/managed-llm.yaml"


def commands() -> dict[str, list[str]]:
    cli = shutil.which("managed-llm")
    entry = [cli] if cli else [sys.executable, "-m", "provisioning"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import click'": [sys.executable, "-c", "import click"],
        "managed-llm --help": [*entry, "--help"],
        "managed-llm validate": [*entry, "validate", "-f", EXAMPLE],
    }


def median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)  # noqa: S603
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    # Interleaved rounds would be fairer on a busy machine; one warm-up each keeps the page cache equal.
    medians = {}
    for name, argv in commands().items():
        median_seconds(argv, 1)
        medians[name] = median_seconds(argv, runs)
    click_time = medians["python -c 'import click'"]
    print(f"{'command':<28} {'median ms':>10} {'x import click':>15}")
    for name, seconds in medians.items():
        print(f"{name:<28} {seconds * 1000:>10.1f} {seconds / click_time:>15.2f}")


if __name__ == "__main__":
    main()
