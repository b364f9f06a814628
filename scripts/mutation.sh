#!/usr/bin/env bash
# Mutation testing of the safety paths (diff, apply, lock, ownership, role-mapping rules) with mutmut.
# Not part of .ci/run: a full run (about 1,500 mutants) takes hours on one core. Configuration: [tool.mutmut] in pyproject.toml.
#
#   scripts/mutation.sh                 # mutmut on one core, then the survival rate per file
#   MUTATION_CHILDREN=2 scripts/mutation.sh
#
# It runs in a scratch copy of the work tree (mutmut writes a mutants/ folder that ruff and git must not see)
# and prints that folder's path, where `python -m mutmut results` and `python -m mutmut show NAME` work.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-$PWD/.venv/bin/python}"
children="${MUTATION_CHILDREN:-1}"
"$python" -c 'import mutmut' 2>/dev/null || {
  echo "error: mutmut is not installed for $python (pip install 'mutmut>=3.8,<4'; kept out of the dev extras and CI)" >&2
  exit 1
}

scratch="${MUTATION_DIR:-$(mktemp -d -t managed-llm-mutation.XXXXXX)}"
mkdir -p "$scratch"
tar --exclude=./.venv --exclude=./.git --exclude=./mutants --exclude='*/__pycache__' \
  --exclude=./.mypy_cache --exclude=./.ruff_cache --exclude=./.hypothesis -cf - . | tar -xf - -C "$scratch"
cd "$scratch"

# Exit status 0 even when mutants survive: the numbers below are the result.
"$python" -m mutmut run --max-children "$children" >mutmut-run.log 2>&1 || {
  tail -n 20 mutmut-run.log >&2
  echo "error: mutmut run failed; log in $scratch/mutmut-run.log" >&2
  exit 1
}
"$python" -m mutmut results --all true >mutmut-results.txt 2>&1 || true

# `mutmut results --all true` prints "    name: status"; names look like provisioning.core.diff.x_fn__mutmut_3.
"$python" - mutmut-results.txt <<'PY'
import collections
import re
import sys

counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
for line in open(sys.argv[1], encoding="utf-8"):
    match = re.match(r"\s*([\w.]+?)\.x[\w]*__mutmut_\d+: (.+)$", line)
    if match:
        module, status = match.groups()
        counts[module][status.strip()] += 1
total = collections.Counter[str]()
# survival = survived / checked ("other": timeouts, no covering test, not checked yet).
print(f"{'module':45} {'mutants':>7} {'killed':>6} {'survived':>8} {'other':>5} {'survival':>8}")
for module in sorted(counts):
    c = counts[module]
    total.update(c)
    n, killed, survived = sum(c.values()), c["killed"], c["survived"]
    other = n - killed - survived
    checked = n - c["not checked"]
    print(f"{module:45} {n:7} {killed:6} {survived:8} {other:5} {survived / max(checked, 1):8.1%}")
n = sum(total.values())
print(f"{'total':45} {n:7} {total['killed']:6} {total['survived']:8} {n - total['killed'] - total['survived']:5} "
      f"{total['survived'] / max(n - total['not checked'], 1):8.1%}")
PY
echo "mutants and results: $scratch (python -m mutmut results / show NAME there)"
