"""One `pulumi.ComponentResource` per concern; each child has `parent=self` and inherits the provider."""
