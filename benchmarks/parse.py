"""Benchmark: CPU to read the declarative file at 5,000 endpoints + 5,000 role mappings. Prints figures.

    python benchmarks/parse.py [--endpoints 5000] [--mappings 5000] [--repeats 3]

Each figure is the median CPU (user + system) of a fresh interpreter, start-up and imports included: the
pure-Python fallback (`LIBYAML` off, the loader before issue 14), the loader as shipped (libyaml composing in
C under its tripwire, then the schema; the cyclic collector paused for both), a bare
`yaml.load(text, Loader=yaml.CSafeLoader)`, and `python -c pass`.
Target (issue 14): shipped <= 1.5 x (bare CSafeLoader + start-up). The file is 1.4 MB and ~125,000 values,
past MAX_FILE_BYTES and MAX_NODES, so the children raise MAX_NODES and call `parse_document` on the text.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOADER = """
import sys
from provisioning.adapters import file_loader
file_loader.LIBYAML = {libyaml}
file_loader.MAX_NODES = 10**7
text = open(sys.argv[1], encoding="utf-8").read()
file_loader.parse_document(text, sys.argv[1])
"""
BARE = """
import sys, yaml
yaml.load(open(sys.argv[1], encoding="utf-8").read(), Loader=yaml.CSafeLoader)
"""


def document(endpoints: int, mappings: int) -> str:
    out = ["bedrock:\n  region: us-east-1\ninference_endpoints:\n"]
    out += [
        f"  - id: llm-{i:05d}\n    task_type: chat_completion\n"
        "    model: us.anthropic.claude-sonnet-4-5-20250929-v1:0\n    provider: anthropic\n"
        "    task_settings:\n      max_new_tokens: 256\n"
        for i in range(endpoints)
    ]
    out.append("role_mappings:\n")
    out += [
        f"  - name: team-{i:05d}\n    roles: [inference_user]\n    rules:\n      field:\n        groups: cn=team-{i}\n"
        for i in range(mappings)
    ]
    return "".join(out)


def child_cpu(code: str, path: Path) -> float:
    """CPU seconds (user + system) of one fresh interpreter running `code`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, check=True)  # noqa: S603  # our own code
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=5000)
    parser.add_argument("--mappings", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cases = {
        "pure-Python loader (old)": LOADER.format(libyaml=False),
        "libyaml loader (new)": LOADER.format(libyaml=True),
        "bare CSafeLoader": BARE,
        "python -c pass": "pass",
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "managed-llm.yaml"
        path.write_text(document(args.endpoints, args.mappings), encoding="utf-8")
        size = path.stat().st_size
        runs: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):  # interleaved, so machine noise spreads over every case
            for name, code in cases.items():
                runs[name].append(child_cpu(code, path))
    cpu = {name: statistics.median(times) for name, times in runs.items()}
    print(f"parse {args.endpoints} endpoints + {args.mappings} role mappings ({size / 1e6:.2f} MB); median CPU s")
    for name, seconds in cpu.items():
        print(f"  {name:<28} {seconds:>7.2f}")
    reference = cpu["bare CSafeLoader"] + cpu["python -c pass"]
    new = cpu["libyaml loader (new)"]
    print(f"  new / old                    {new / cpu['pure-Python loader (old)']:>7.2f}x")
    print(f"  new / (bare + start-up)      {new / reference:>7.2f}x   (target <= 1.50)")


if __name__ == "__main__":
    main()
