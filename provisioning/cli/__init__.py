"""The `managed-llm` command line (click): `app` holds the group, `commands/` the commands, `fanout` the clusters.

`main` is re-exported because console scripts installed before the layout change point at `provisioning.cli:main`.
"""

from provisioning.cli.app import main

__all__ = ["main"]
