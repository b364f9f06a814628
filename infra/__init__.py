"""The AWS half of managed-llm: a Pulumi program (`Pulumi.yaml` → `infra/__main__.py`) and its components."""
