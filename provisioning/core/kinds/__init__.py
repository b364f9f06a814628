"""One module per kind of cluster object: desired model -> Spec, GET body -> Spec, Spec -> request body.

Both sides of a comparison go through these functions, so "what Elasticsearch returns" and "what the
file says" meet in one canonical form. No I/O and no client imports here.
"""
