"""Reading the current champion from the MLflow registry (read-only).

Stages before promote only ever *read* the registry: they find the champion by
alias (``models:/<name>@champion``), never by the deprecated stages, and treat a
missing model or alias as "first cycle".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from driftloop.errors import RegistryError

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
        return f"models:/{self.name}@{self.alias}"


def find_champion(model_name: str, alias: str = CHAMPION_ALIAS) -> ChampionRef | None:
    """The version the alias points at, or ``None`` when the model or alias does not exist yet.

    Raises
    ------
    RegistryError
        When the registry cannot be reached (anything but "does not exist").
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        mv = client.get_model_version_by_alias(model_name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise RegistryError(f"cannot read alias {alias!r} of registered model {model_name!r}: {exc}") from exc
    return ChampionRef(name=model_name, version=str(mv.version), run_id=mv.run_id, tags=dict(mv.tags or {}),
                       alias=alias)
