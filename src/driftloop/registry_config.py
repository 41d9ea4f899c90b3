"""The ``registry`` config group: which registered model a cycle serves, and its aliases.

The identity is read by every stage (the snapshot stage finds the champion by it, the promote
stage moves its alias) and by ``driftloop status | rollback | promote | history``, so it is its
own group (``conf/registry/``) rather than a part of ``promote``, whose business is the gates.
A data config names its model by selecting an option (``conf/data/feedback.yaml``:
``- override /registry@_global_.registry: feedback``).

This module imports nothing from driftloop but :mod:`driftloop.errors` and
:mod:`driftloop.validation`, so the stage context and the promote commands both read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftloop.errors import ConfigError
from driftloop.validation import Key, check, mapping_of

#: The keys of the group, their kinds and defaults (the only place the defaults live).
TABLE: dict[str, Key] = {
    "model_name": Key("str", "driftloop-model", doc="registered model name (no quotes)"),
    "alias": Key("str", "champion", doc="the serving alias: models:/<model_name>@<alias>"),
    "previous_alias": Key("str", "previous", doc="the alias kept on the champion it replaced (rollback target)"),
}

#: Keys of earlier versions that lived in ``promote``, each with the key that replaced it.
RENAMED: dict[str, str] = {
    f"promote.{key}": f"registry.{key} (the registry identity is its own group, conf/registry/)" for key in TABLE
}


@dataclass(frozen=True)
class RegistryConfig:
    """The registry identity: the registered model and its two aliases.

    Parameters
    ----------
    model_name : str
        Registered model name (non-empty, quote-free: it goes into registry search filters).
    alias : str
        The serving alias (``models:/<model_name>@<alias>``).
    previous_alias : str
        The alias kept on the champion the last promotion replaced; ``driftloop rollback`` restores it.

    Examples
    --------
    >>> RegistryConfig.from_dict({"model_name": "m"})
    RegistryConfig(model_name='m', alias='champion', previous_alias='previous')
    >>> RegistryConfig.from_dict({"model_name": "m", "alias": "x", "previous_alias": "x"})
    Traceback (most recent call last):
    ...
    driftloop.errors.ConfigError: registry.alias and registry.previous_alias must differ. Got 'x' for both.
    """

    model_name: str = TABLE["model_name"].default
    alias: str = TABLE["alias"].default
    previous_alias: str = TABLE["previous_alias"].default

    def __post_init__(self) -> None:
        if "'" in self.model_name or '"' in self.model_name:
            raise ConfigError(f"registry.model_name must be quote-free. Got {self.model_name!r} instead.")
        if self.alias == self.previous_alias:
            raise ConfigError(f"registry.alias and registry.previous_alias must differ. Got {self.alias!r} for both.")

    @classmethod
    def from_dict(cls, mapping: Any, where: str = "registry") -> RegistryConfig:
        """Build from the composed ``registry`` mapping (a dict or an OmegaConf ``DictConfig``).

        Raises
        ------
        ConfigError
            Naming an unknown key (``registry.<key>``) or an ill-typed value.
        """
        return cls(**check(mapping_of(mapping, where), TABLE, where))
