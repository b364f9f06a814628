"""The commands, one module per group; each registers itself on `provisioning.cli.app.cli` when imported."""
