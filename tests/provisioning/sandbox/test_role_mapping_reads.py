"""The stand-in answers a named role-mapping GET by copying only that mapping (issue 14: copying all N made
per-object reads O(N) each and inflated the benchmark's per-object baseline)."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest

from provisioning.sandbox import Principal, Request, StandinCluster
from provisioning.sandbox import cluster as cluster_module

HEADERS = {"authorization": "k"}


def _cluster(n: int) -> StandinCluster:
    cluster = StandinCluster(principals={"k": Principal("admin", frozenset({"all"}))})
    for i in range(n):
        cluster.role_mappings[f"team-{i}"] = {"enabled": True, "roles": ["r"], "rules": {"field": {"username": "*"}}}
    cluster.operator_mappings["ops"] = {"enabled": True, "roles": ["o"], "rules": {"field": {"username": "*"}}}
    return cluster


@pytest.fixture
def copied(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every object the stand-in deep-copies."""
    seen: list[object] = []

    def counting(value: Any, memo: Any = None) -> Any:
        seen.append(value)
        return copy.deepcopy(value, memo)

    # The module's own `copy` name is replaced, so copy.deepcopy's inner recursion is not counted.
    monkeypatch.setattr(cluster_module, "copy", SimpleNamespace(deepcopy=counting))
    return seen


def test_named_role_mapping_get_copies_only_that_mapping(copied: list[object]) -> None:
    cluster = _cluster(100)
    copied.clear()  # the preconfigured endpoints copied at start-up
    response = cluster.handle(Request("GET", "/_security/role_mapping/team-7", headers=HEADERS))
    assert response.status == 200
    assert set(response.body) == {"team-7"}
    assert copied == [cluster.role_mappings["team-7"]]
    assert response.body["team-7"] == cluster.role_mappings["team-7"]
    assert response.body["team-7"] is not cluster.role_mappings["team-7"]


def test_role_mapping_gets_answer_as_before(copied: list[object]) -> None:
    cluster = _cluster(3)
    everything = cluster.handle(Request("GET", "/_security/role_mapping", headers=HEADERS))
    assert list(everything.body) == ["team-0", "team-1", "team-2", "ops-read-only-operator-mapping"]
    assert everything.body["ops-read-only-operator-mapping"]["metadata"] == {"_read_only": True}
    operator = cluster.handle(Request("GET", "/_security/role_mapping/ops-read-only-operator-mapping", headers=HEADERS))
    assert operator.status == 200
    assert list(operator.body) == ["ops-read-only-operator-mapping"]
    missing = cluster.handle(Request("GET", "/_security/role_mapping/nobody", headers=HEADERS))
    assert (missing.status, missing.body) == (404, {})
