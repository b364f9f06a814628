"""Bedrock's `*DataDeliveryEnabled` logging flags: the ones known today, and a deny-by-default reading of any.

The one definition shared by `verify` and infra's `require_metadata_only` (the policy pack keeps its own copy
because it runs in its own virtualenv). AWS keeps adding payload kinds to `LoggingConfig` (video in botocore
1.35.74, audio in 1.42.1), so every key that looks like a delivery flag is judged, known or not, in any
spelling the API (`audioDataDeliveryEnabled`) or Pulumi's property bag (`audio_data_delivery_enabled`) uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# botocore data/bedrock/2023-04-20/service-2.json, shape `LoggingConfig` (all Boolean); audio since botocore
# 1.42.1 (.changes/1.42.1.json: "Adds the audioDataDeliveryEnabled boolean field ...").
DELIVERY_FLAGS: tuple[str, ...] = (
    "textDataDeliveryEnabled",
    "imageDataDeliveryEnabled",
    "embeddingDataDeliveryEnabled",
    "videoDataDeliveryEnabled",
    "audioDataDeliveryEnabled",
)
_SUFFIX = "datadeliveryenabled"
_SEPARATORS = re.compile(r"[_\-\s]+")


def is_delivery_flag(key: str) -> bool:
    """Whether `key` names a data-delivery flag, whatever its case or separators."""
    return _SEPARATORS.sub("", key).lower().endswith(_SUFFIX)


def api_name(key: str) -> str:
    """The API's camelCase spelling of a flag: `audio_data_delivery_enabled` -> `audioDataDeliveryEnabled`."""
    words = [w for w in _SEPARATORS.split(key) if w]
    if len(words) <= 1:
        return key
    return words[0].lower() + "".join(w[:1].upper() + w[1:].lower() for w in words[1:])


def _canonical(key: str) -> str:
    return _SEPARATORS.sub("", key).lower()


def is_known(key: str) -> bool:
    """Whether `key` is one of DELIVERY_FLAGS, in any spelling."""
    return _canonical(key) in {_canonical(f) for f in DELIVERY_FLAGS}


@dataclass(frozen=True)
class DeliveryFlags:
    """The flags a configuration carries (as spelled there) and the known flags it does not carry."""

    values: tuple[tuple[str, object], ...]
    absent: tuple[str, ...]

    @property
    def not_off(self) -> tuple[tuple[str, object], ...]:
        """Every flag whose value is not exactly False: true, null, a string... (deny by default)."""
        return tuple((key, value) for key, value in self.values if value is not False)


def read_flags(config: Mapping[str, Any], expected: Iterable[str] = DELIVERY_FLAGS) -> DeliveryFlags:
    """Every delivery-flag key of `config` with its value, and which of `expected` are missing.

    A missing flag is not an off flag: the provider defaults the ones it models to true, and a flag the
    reader cannot see (an older SDK or provider drops it) is unproven.
    """
    values = tuple(sorted(((str(k), v) for k, v in config.items() if is_delivery_flag(str(k))), key=lambda kv: kv[0]))
    present = {_canonical(k) for k, _ in values}
    absent = tuple(flag for flag in expected if _canonical(flag) not in present)
    return DeliveryFlags(values, absent)


def describe(key: str, value: object) -> str:
    """`key=value` as JSON would spell the value (true/false/null), the key in the API's spelling."""
    shown = "true" if value is True else "false" if value is False else "null" if value is None else repr(value)
    return f"{api_name(key)}={shown}"


def _get(config: Mapping[str, Any], name: str) -> Any:
    """The value of `name` in `config`, whatever the key's spelling (`s3Config`, `s3_config`)."""
    return next((v for k, v in config.items() if _canonical(str(k)) == _canonical(name)), None)


def payload_destinations(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The destinations besides CloudWatch metadata that a logging configuration names, in the API's spelling.

    The one rule shared by infra's `require_metadata_only` and `verify`: an S3 destination for the logs
    (`s3Config`) or for large payloads (`cloudWatchConfig.largeDataDeliveryS3Config`) counts as soon as it is
    present with any value other than null, because either would receive what metadata-only logging keeps
    out of CloudWatch.
    """
    found = ["s3Config"] if _get(config, "s3Config") is not None else []
    cloudwatch = _get(config, "cloudWatchConfig")
    if isinstance(cloudwatch, Mapping) and _get(cloudwatch, "largeDataDeliveryS3Config") is not None:
        found.append("cloudWatchConfig.largeDataDeliveryS3Config")
    return tuple(found)
