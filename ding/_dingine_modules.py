"""A clear ImportError for DI-engine modules ding (and its dizoo) does not have.

ding provides DI-engine's serial-pipeline API (configs, entries, envs, models, policies, workers) under DI-engine's
names, but not the rest of DI-engine 0.5: its task/middleware framework, bonus agents, league, reward and world
models. A DI-engine script importing one of those used to stop with Python's bare "No module named 'ding.framework'";
:class:`DingEngineModuleFinder`, last on ``sys.meta_path`` (so it is asked only after every real finder found
nothing), turns that into one line saying what the module is and what ding offers instead.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

# DI-engine 0.5's packages that ding does not have: (what ding has no, what to use instead)
PACKAGES = {
    "framework": (
        "task/middleware framework (DI-engine's task, middleware, context)",
        "train with serial_pipeline((main_config, create_config), seed=0), `ding -m serial -c cfg.py`, or the "
        "component API (BaseLearner, SampleSerialCollector, InteractionSerialEvaluator, AdvancedReplayBuffer)",
    ),
    "bonus": (
        "ready-made agents (DI-engine's DQNAgent, PPOF, ...)",
        "train with serial_pipeline and the shipped dizoo configs",
    ),
    "league": ("self-play league", "ding trains single agents"),
    "reward_model": (
        "learned reward models (DI-engine's GAIL, RND, ICM, T-REX, ...)",
        "shape rewards in an env wrapper or on the dicts replay_buffer.sample returns",
    ),
    "world_model": ("world models (DI-engine's MBPO, DreamerV3)", "ding has no model-based RL"),
    "interaction": ("master/slave interaction of DI-engine's parallel mode", "for several processes, use DDP"),
    "example": ("example scripts of DI-engine's", "see dizoo's entry scripts and configs"),
    "hpc_rl": ("HPC CUDA kernels of DI-engine's", "ding's losses are plain torch"),
    "compatibility": ("version shims of DI-engine's", "ding needs none"),
}

# DI-engine 0.5.3's dizoo packages that ding's dizoo does not have
DIZOO_PACKAGES = (
    "beergame", "bitflip", "bsuite", "cliffwalking", "common", "competitive_rl", "d4rl", "dmc2gym", "evogym",
    "frozen_lake", "gfootball", "gym_anytrading", "gym_hybrid", "gym_pybullet_drones", "gym_soccer",
    "image_classification", "ising_env", "league_demo", "mario", "maze", "metadrive", "minigrid",
    "multiagent_mujoco", "overcooked", "petting_zoo", "pomdp", "procgen", "pybullet", "rocket", "slime_volley", "smac",
    "sokoban", "tabmwp", "taxi",
)  # fmt: skip

DIZOO_HELP = (
    "ding's dizoo has the classic-control (CartPole, Pendulum, ...), Box2D, MuJoCo and Atari envs and configs (any "
    "other gymnasium env runs by id with env type 'gym'), not DI-engine's others"
)


def _policy_types() -> str:
    from ding.utils.registry import POLICY_REGISTRY

    return ", ".join(POLICY_REGISTRY.names())


def missing_module_message(name: str) -> Optional[str]:
    """The message for a ``ding.*`` or ``dizoo.*`` module that cannot be found (None for any other name)."""
    parts = name.split(".")
    if parts[0] not in ("ding", "dizoo") or len(parts) < 2:
        return None
    if parts[0] == "dizoo":
        return f"No module named '{name}': {DIZOO_HELP}"
    if parts[1] in PACKAGES:
        what, instead = PACKAGES[parts[1]]
        return f"No module named '{name}': ding has no {what}; {instead}"
    return (
        f"No module named '{name}': not in ding, which implements DI-engine's serial pipeline for the policy types "
        f"{_policy_types()} under DI-engine's names (docs/component_api.md lists what it provides)"
    )


def package_getattr(package: str, names: tuple[str, ...]):
    """A ``__getattr__`` for the package ``package`` (ding or dizoo): ``from ding import framework`` asks the
    package for the attribute first, and Python replaces the finder's ModuleNotFoundError for that very module with
    its bare "cannot import name"; this raises the message instead, for the DI-engine names ``names``. Any other
    name is an AttributeError, as without it (``hasattr`` stays False)."""

    def __getattr__(name: str) -> Any:
        if name in names:
            raise ImportError(missing_module_message(f"{package}.{name}"), name=f"{package}.{name}")
        raise AttributeError(f"module '{package}' has no attribute '{name}'")

    return __getattr__


class DingEngineModuleFinder:
    """A meta path finder that finds nothing: for a ``ding.*`` or ``dizoo.*`` module no other finder found, it raises
    ModuleNotFoundError with :func:`missing_module_message`. ``importlib.util.find_spec`` of such a name raises it
    too (it returned None before): code probing for DI-engine's modules that way must catch ImportError."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        message = missing_module_message(name)
        if message is not None:
            raise ModuleNotFoundError(message, name=name)
        return None


def install() -> None:
    """Append the finder to ``sys.meta_path`` once (a reload of ding does not add a second)."""
    if not any(type(finder).__name__ == DingEngineModuleFinder.__name__ for finder in sys.meta_path):
        sys.meta_path.append(DingEngineModuleFinder())
