"""A preconfigured connector without `exposeConfig: true` is listed by Kibana without its config, so Kibana's AI
features cannot see the endpoint it serves: plan names the missing flag rather than five vague differences."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning.core.kinds.kibana_connectors import State, status
from tests.conftest import Cli, endpoint, write_file
from tests.provisioning.core.test_kibana import LISTED, SPEC, Kibana, kibana, kibana_yml, run_with_kibana  # noqa: F401

pytestmark = pytest.mark.double_only
MISSING = "exposeConfig: true is missing (Kibana hides the config)"


@pytest.mark.parametrize("listed", [{k: v for k, v in LISTED.items() if k != "config"}, {**LISTED, "config": {}}])
def test_a_connector_listed_without_its_config_is_missing_expose_config(listed: dict[str, object]) -> None:
    (found,) = status([SPEC], [listed], {"llm"})
    assert found.state is State.DIFFERENT
    assert found.detail == f"update kibana.yml: {MISSING}"


def test_plan_names_expose_config_when_kibana_yml_lacks_it(
    run_with_kibana: Cli,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    kibana: Kibana,  # noqa: F811
) -> None:
    file = write_file(tmp_path, [endpoint("llm")], [], kibana={"connectors": [{"endpoint": "llm"}]})
    run_with_kibana("apply", "-f", str(file))  # creates the endpoint; Kibana lists nothing yet
    kibana.double.load_kibana_yml(
        kibana_yml(run_with_kibana, file).replace("exposeConfig: true", "exposeConfig: false")
    )
    planned = run_with_kibana("plan", "-f", str(file))
    assert planned.exit_code == 2, planned.output
    assert MISSING in planned.stdout
