"""Pure decisions: the file's model, kinds, diff, plan, planning, apply (no click, rich, HTTP or boto3)."""
