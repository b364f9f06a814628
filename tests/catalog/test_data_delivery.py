"""The shared reading of Bedrock's `*DataDeliveryEnabled` flags: any spelling, deny by default."""

from __future__ import annotations

import pytest

from catalog.data_delivery import DELIVERY_FLAGS, api_name, describe, is_delivery_flag, read_flags


@pytest.mark.parametrize(
    "key",
    [
        "audioDataDeliveryEnabled",
        "audio_data_delivery_enabled",
        "AUDIO_DATA_DELIVERY_ENABLED",
        "Foo-Data-Delivery-Enabled",
        "fooDataDeliveryEnabled",
    ],
)
def test_every_spelling_of_a_delivery_flag_is_one(key: str) -> None:
    assert is_delivery_flag(key)


@pytest.mark.parametrize("key", ["cloudWatchConfig", "s3Config", "dataDelivery", "deliveryEnabled"])
def test_other_logging_members_are_not_delivery_flags(key: str) -> None:
    assert not is_delivery_flag(key)


def test_api_name_turns_property_bag_names_into_the_apis() -> None:
    assert api_name("audio_data_delivery_enabled") == "audioDataDeliveryEnabled"
    assert api_name("videoDataDeliveryEnabled") == "videoDataDeliveryEnabled"


def test_read_flags_denies_anything_but_false_and_lists_absent_known_flags() -> None:
    flags = read_flags(
        {
            "textDataDeliveryEnabled": False,
            "image_data_delivery_enabled": None,
            "embeddingDataDeliveryEnabled": "false",
            "fooDataDeliveryEnabled": True,
            "cloudWatchConfig": {},
        }
    )
    assert [describe(k, v) for k, v in flags.not_off] == [
        "embeddingDataDeliveryEnabled='false'",
        "fooDataDeliveryEnabled=true",
        "imageDataDeliveryEnabled=null",
    ]
    assert flags.absent == ("videoDataDeliveryEnabled", "audioDataDeliveryEnabled")


def test_audio_is_a_known_flag() -> None:
    """botocore 1.42.1 added audioDataDeliveryEnabled to bedrock's LoggingConfig."""
    import botocore.session

    shape = botocore.session.get_session().get_service_model("bedrock").shape_for("LoggingConfig")
    modelled = tuple(name for name in shape.members if is_delivery_flag(name))
    assert set(modelled) <= set(DELIVERY_FLAGS), modelled
    assert "audioDataDeliveryEnabled" in DELIVERY_FLAGS
