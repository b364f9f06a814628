"""The one rule for payload destinations, shared by infra's require_metadata_only and verify."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.data_delivery import payload_destinations


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"cloudWatchConfig": {"logGroupName": "g", "roleArn": "r"}}, ()),
        ({"s3Config": None, "cloudWatchConfig": {"largeDataDeliveryS3Config": None}}, ()),
        ({"s3Config": {"bucketName": "b"}}, ("s3Config",)),
        # Present counts, whatever the value but null: an empty block still names a destination.
        ({"s3Config": {}}, ("s3Config",)),
        (
            {"cloudWatchConfig": {"largeDataDeliveryS3Config": {"bucketName": "b"}}},
            ("cloudWatchConfig.largeDataDeliveryS3Config",),
        ),
        # Pulumi's property bag spells the same keys in snake_case.
        ({"s3_config": {"bucket_name": "b"}}, ("s3Config",)),
        (
            {"cloudwatch_config": {"large_data_delivery_s3_config": {"bucket_name": "b"}}},
            ("cloudWatchConfig.largeDataDeliveryS3Config",),
        ),
        (
            {"s3Config": {"bucketName": "b"}, "cloudWatchConfig": {"largeDataDeliveryS3Config": {"bucketName": "c"}}},
            ("s3Config", "cloudWatchConfig.largeDataDeliveryS3Config"),
        ),
    ],
)
def test_payload_destinations(config: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert payload_destinations(config) == expected
