"""The infra mock engine, for checking the shipped stack against the policy pack."""

from tests.infra.conftest import engine

__all__ = ["engine"]
