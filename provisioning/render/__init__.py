"""Formats reports for people and pipelines (text, json, markdown); holds no client."""
