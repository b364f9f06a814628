"""The model catalog both halves share: the Pulumi program (infra/) and the CLI (provisioning/).

Data (`data/catalog.json`) and pure functions over it; it imports neither `infra` nor `provisioning`.
`lifecycle` answers "past end of life?" and `data_delivery` names Bedrock's logging delivery flags.
"""

from catalog.models import (
    Catalog,
    CatalogModel,
    ModelId,
    ModelIdError,
    Preset,
    Price,
    SourcedPrice,
    TaskType,
    load_catalog,
    parse_model_id,
)

__all__ = [
    "Catalog",
    "CatalogModel",
    "ModelId",
    "ModelIdError",
    "Preset",
    "Price",
    "SourcedPrice",
    "TaskType",
    "load_catalog",
    "parse_model_id",
]
