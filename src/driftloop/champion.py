"""Reading the current champion from the MLflow registry (read-only).

The champion's data is found through its lineage tags (:func:`champion_training_data`,
:func:`champion_reference_frame`), read back from the DVC cache by md5.

Stages before promote only ever *read* the registry: they find the champion by
alias (``models:/<name>@champion``), never by the deprecated stages, and treat a
missing model or alias as "first cycle".

The snapshot stage resolves the alias once and writes the version it found into
the cycle's manifest (:func:`champion_record`); compare and promote then use that
version (:func:`cycle_champion`), never the alias again. A rerun of compare or
promote after this cycle promoted its challenger therefore still compares against
the champion that served when the cycle started, not against the challenger itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.contracts import ChampionEntry, CompareResult, Manifest
from driftloop.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.schema import Schema

CHAMPION_ALIAS = "champion"


@dataclass(frozen=True)
class ChampionRef:
    """The registry's champion: name, version, URI and lineage tags."""

    name: str
    version: str
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)
    alias: str = CHAMPION_ALIAS

    @property
    def uri(self) -> str:
        """``models:/<name>/<version>``: pinned, so the alias moving later changes nothing."""
        return f"models:/{self.name}/{self.version}"

    @property
    def alias_uri(self) -> str:
        """``models:/<name>@<alias>``: whatever serves now."""
        return f"models:/{self.name}@{self.alias}"


def find_champion(model_name: str, alias: str = CHAMPION_ALIAS) -> ChampionRef | None:
    """The version the alias points at, or ``None`` when the model or alias does not exist yet.

    Raises
    ------
    RegistryError
        When the registry cannot be reached (anything but "does not exist").
    """
    from driftloop.promote.registry import version_by_alias

    mv = version_by_alias(model_name, alias)
    if mv is None:
        return None
    return ChampionRef(
        name=model_name, version=str(mv.version), run_id=mv.run_id, tags=dict(mv.tags or {}), alias=alias
    )


def champion_record(name: str, alias: str, version: str | int | None) -> dict[str, str] | None:
    """The manifest's ``champion`` entry: the version serving when the cycle started.

    Returns
    -------
    dict or None
        ``{"name", "alias", "version", "uri": "models:/<name>/<version>"}``; None on a first
        cycle (``version`` None).

    Examples
    --------
    >>> champion_record("m", "champion", 3)["uri"]
    'models:/m/3'
    >>> champion_record("m", "champion", None) is None
    True
    """
    entry = champion_entry(name, alias, version)
    return None if entry is None else {k: str(v) for k, v in entry.to_dict().items()}


def champion_entry(name: str, alias: str, version: str | int | None) -> ChampionEntry | None:
    """:func:`champion_record` as the manifest contract's :class:`~driftloop.contracts.ChampionEntry`."""
    return None if version is None else ChampionEntry.of(name, alias, version)


def cycle_champion(
    manifest: Manifest | Mapping[str, Any] | None,
    model_name: str,
    alias: str = CHAMPION_ALIAS,
    *,
    compared: CompareResult | Mapping[str, Any] | None = None,
) -> ChampionRef | None:
    """The champion this cycle compares against, as the snapshot manifest recorded it.

    Parameters
    ----------
    manifest : Manifest or mapping
        ``data/snapshot/manifest.json`` (a mapping is read through :class:`~driftloop.contracts.Manifest`).
        Its top-level ``champion`` entry; a manifest written before that entry existed is read
        through ``reference.champion`` (the lineage of the reference data).
    model_name, alias : str
        The configured registered model and alias; they must be the ones the snapshot used.
    compared : CompareResult or mapping, optional
        This cycle's ``compare.json``: when it says it scored another champion version
        (``champion_version``) than the manifest's, its comparison is not this cycle's.

    Returns
    -------
    ChampionRef or None
        None when the cycle started without a champion (a first cycle). Lineage tags
        are not read (``tags`` is empty): this reads no registry.

    Raises
    ------
    ConfigError
        When the manifest names another model or alias than the configuration (the
        snapshot ran with other settings: rerun it).
    DataError
        When the manifest records neither entry, or ``compared`` scored another champion.
    """
    if manifest is None:
        raise DataError("the snapshot manifest records no champion (no 'champion' entry): rerun the snapshot stage.")
    entry = (manifest if isinstance(manifest, Manifest) else Manifest.from_dict(manifest)).champion
    if isinstance(compared, Mapping):
        compared = CompareResult.from_dict(compared)
    if compared is not None and compared.challenger_trained:
        scored = compared.champion_version
        expected = None if entry is None else entry.version
        if scored != expected:
            raise DataError(
                f"compare.json scored champion version {scored}, but this cycle's snapshot manifest records "
                f"version {expected}: the comparison belongs to another cycle. Rerun compare (`dvc repro`)."
            )
    if entry is None:
        return None
    if (entry.name, entry.alias or alias) != (model_name, alias):
        raise ConfigError(
            f"The snapshot manifest was made for champion {entry.name!r}@{entry.alias!r}, but "
            f"registry.model_name/registry.alias are {model_name!r}/{alias!r}: rerun the snapshot stage "
            "(`dvc repro`) so that the whole cycle uses one model."
        )
    return ChampionRef(name=model_name, version=entry.version, run_id=None, alias=alias)


def with_tags(ref: ChampionRef) -> ChampionRef:
    """``ref`` with its run id and lineage tags read from the registry (by version, not alias).

    Raises
    ------
    RegistryError
        When the version cannot be read.
    """
    from driftloop.promote.registry import model_version

    mv = model_version(ref.name, ref.version)
    return ChampionRef(
        name=ref.name, version=str(mv.version), run_id=mv.run_id, tags=dict(mv.tags or {}), alias=ref.alias
    )


def champion_training_data(
    model_name: str, alias: str, schema: Schema, root: Path
) -> tuple[pd.DataFrame | None, str, dict[str, Any]]:
    """The serving champion's training data, found through its lineage tag in the DVC cache.

    Parameters
    ----------
    model_name, alias : str
        The registry identity (:func:`driftloop.context.registry_identity`).
    schema : Schema
        The data is coerced to it, naming the champion in any error.
    root : Path
        The project root (its DVC cache; a ``dvc exp run --temp`` copy shares it).

    Returns
    -------
    tuple
        ``(frame, label, lineage)``: the data, how to name the champion (``"<name> v<version>"``)
        and its lineage record for the manifest; ``(None, "", {})`` on a first cycle (no champion).

    Raises
    ------
    DataError
        When the champion has no training-data tag or its data cannot be fetched.
    """
    import pandas as pd

    from driftloop.batches import coerce
    from driftloop.lineage import fetch_by_md5
    from driftloop.tags import TAG_TRAIN_MD5

    champion = find_champion(model_name, alias)
    if champion is None:
        return None, "", {}
    md5 = champion.tags.get(TAG_TRAIN_MD5)
    if not md5:
        raise DataError(
            f"champion {model_name} v{champion.version} has no {TAG_TRAIN_MD5!r} tag: its training data "
            "cannot be found. Tag it, or roll back to a version registered by driftloop."
        )
    path = fetch_by_md5(root, md5, what=f"training data of {model_name} v{champion.version}")
    frame = coerce(pd.read_parquet(path), schema, where=f"training data of {model_name} v{champion.version} ({md5})")
    lineage = {"model_name": model_name, "version": champion.version, "training_data_md5": md5}
    return frame, f"{model_name} v{champion.version}", lineage


def champion_reference_frame(
    champion: ChampionRef, schema: Schema, *, root: Path, reference: Path
) -> tuple[pd.DataFrame, str]:
    """The frame the champion's *reference* outputs are measured on, and what it is.

    Its own holdout (lineage tag -> DVC cache/remote), data it was never trained on: its
    training data would give in-sample accuracy and over-confident scores, biasing output and
    concept drift toward "drift". Falls back to ``reference`` (the snapshot's reference window),
    saying so, for versions without the tag.
    """
    import pandas as pd

    from driftloop.batches import coerce
    from driftloop.lineage import fetch_by_md5
    from driftloop.tags import TAG_HOLDOUT_MD5, read_tag

    md5 = read_tag(champion.tags, TAG_HOLDOUT_MD5)  # also the old driftloop.holdout_md5
    if md5:
        what = f"holdout of {champion.name} v{champion.version}"
        path = fetch_by_md5(root, md5, what=what)
        return coerce(pd.read_parquet(path), schema, where=f"{what} ({md5})"), what
    return pd.read_parquet(reference), "reference window (champion has no holdout tag)"
