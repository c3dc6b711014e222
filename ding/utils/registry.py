"""Name -> class registries for envs, env managers, policies, models and buffers.

Built-in entries are listed by module path and imported on first use, so ``import ding`` stays cheap and a
config can name any built-in type without importing it first.
"""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Callable, Iterable
from typing import Any, Optional


class RegistryError(KeyError):
    """A name that is not registered; the message lists what is."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry:
    """Maps a type name (as written in ``create_config``) to a class or factory.

    :param kind: what the registry holds, used in error messages (``'policy'``, ``'env'`` ...).
    :param builtins: name -> module that registers it when imported; imported lazily by :meth:`get`.
    """

    def __init__(self, kind: str, builtins: Optional[dict[str, str]] = None) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}
        self._builtins: dict[str, str] = dict(builtins or {})

    def register(self, name: str, obj: Any = None, force: bool = False) -> Callable:
        """Register ``obj`` under ``name``; used as ``@REGISTRY.register('name')`` or called directly."""

        def add(target: Any) -> Any:
            if not force and name in self._items and self._items[name] is not target:
                raise RegistryError(
                    f"{self.kind} type '{name}' is already registered by {self._items[name]!r}; "
                    f"pick another name or pass force=True"
                )
            self._items[name] = target
            return target

        return add(obj) if obj is not None else add

    def names(self) -> list[str]:
        return sorted(set(self._items) | set(self._builtins))

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in self._builtins

    def get(self, name: str) -> Any:
        """The registered object; imports a built-in's module on first use; clear error listing names if absent."""
        if name not in self._items and name in self._builtins:
            importlib.import_module(self._builtins[name])
        if name not in self._items:
            close = difflib.get_close_matches(str(name), self.names(), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the ding package in use
            raise RegistryError(
                f"Unknown {self.kind} type '{name}'. Available: {', '.join(self.names()) or '(none)'}.{hint} "
                f"A type of your own must be registered with @{self.kind.upper()}_REGISTRY.register('{name}') "
                f"in a module listed in create_config's import_names (this is the ding at {here}: a type added "
                f"to another copy needs that copy installed, pip install -e <it>)."
            )
        return self._items[name]

    def name_of(self, obj: Any) -> Optional[str]:
        """The name ``obj`` is registered under (None if it is not registered)."""
        return next((name for name, item in self._items.items() if item is obj), None)

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """An instance of the type registered as ``name`` (DI-engine's ``Registry.build``)."""
        return self.get(name)(*args, **kwargs)


def import_modules(names: Iterable[str], where: str = "import_names") -> None:
    """Import user modules named in a config (they register their types as a side effect)."""
    for name in names or ():
        try:
            importlib.import_module(name)
        except Exception as err:  # any failure in a user module is reported with the key that named it
            raise ImportError(
                f"{where}: could not import module '{name}' ({type(err).__name__}: {err}). "
                f"Check the module path and that it imports on its own (python -c 'import {name}'); a module of your "
                f"own must be importable from sys.path: beside the config file, or on PYTHONPATH."
            ) from err


# ding never imports dizoo: envs of dizoo are found through create_config.env.import_names.
ENV_REGISTRY = Registry(
    "env", {"gym": "ding.envs.gym_env", "gymnasium": "ding.envs.gym_env", "mujoco": "ding.envs.gym_env"}
)
ENV_MANAGER_REGISTRY = Registry(
    "env_manager",
    {
        "base": "ding.envs.env_manager.base_env_manager",
        "subprocess": "ding.envs.env_manager.subprocess_env_manager",
        "atari": "ding.envs.env_manager.atari_env_manager",
        "env_pool": "ding.envs.env_manager.envpool_env_manager",  # DI-engine's EnvPool manager: ale-py's, as 'atari'
    },
)
POLICY_REGISTRY = Registry(
    "policy",
    {
        "dqn": "ding.policy.dqn",
        "ppo": "ding.policy.ppo",
        "sac": "ding.policy.sac",
        "ddpg": "ding.policy.ddpg",
        "td3": "ding.policy.td3",
        "c51": "ding.policy.c51",
        "qrdqn": "ding.policy.qrdqn",
        "rainbow": "ding.policy.rainbow",
        "iqn": "ding.policy.iqn",
    },
)
MODEL_REGISTRY = Registry(
    "model",
    {
        "dqn": "ding.model.dqn",
        "vac": "ding.model.vac",
        "qac": "ding.model.qac",
        "c51dqn": "ding.model.distributional",
        "qrdqn": "ding.model.distributional",
        "rainbowdqn": "ding.model.distributional",
        "iqn": "ding.model.distributional",
    },
)
BUFFER_REGISTRY = Registry(
    "buffer",
    {
        "replay": "ding.data.replay_buffer",
        "naive": "ding.data.replay_buffer",
        "deque": "ding.data.replay_buffer",
        "advanced": "ding.data.replay_buffer",
    },
)
