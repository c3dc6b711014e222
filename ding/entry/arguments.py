"""The Python entries' arguments, checked as the ``ding`` command checks its flags, before anything is built or
written: ``serial_pipeline``, ``serial_pipeline_onpolicy`` and ``eval`` call :func:`check_entry_arguments` first.

The rules are the command line's (ding.entry.script): a seed is an int >= 0; a budget (``max_env_step``,
``max_train_iter``) is a whole number >= 0 or None (no budget), where a float that is a whole number (``1e5``, as
DI-engine's configs write budgets) is taken as that int, as ``--max-env-step 1e5`` is; ``model`` is an
``nn.Module`` instance or None. A wrong type is an :class:`EntryTypeError` (a ``TypeError``), a wrong value a
:class:`~ding.config.ConfigError` (a ``ValueError``); both end a script run through ``run_main`` as one line, exit 2.
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
from typing import Any, Optional

from ding.config import ConfigError

SEED_LIMIT = 2**63  # torch.manual_seed takes up to 2**64 - 1, and a rank adds its number to the seed


class EntryTypeError(ConfigError, TypeError):
    """An entry's argument of the wrong type: a ``TypeError``, and a :class:`ConfigError` so that ``run_main`` and
    the ``ding`` command report it as one line with exit code 2."""


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def check_seed(seed: Any, entry: str) -> int:
    """``seed`` as an int; raises unless it is an int (a numpy integer too) from 0 to 2**63 - 1."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise EntryTypeError(f"{entry}: seed must be an int >= 0, got {_shown(seed)}: pass e.g. seed=0")
    if seed < 0:
        raise ConfigError(f"{entry}: seed must be an int >= 0, got {seed}")
    if seed >= SEED_LIMIT:
        raise ConfigError(f"{entry}: seed must be less than 2**63, got {seed}")
    return int(seed)


def check_budget(value: Any, name: str, entry: str) -> Optional[int]:
    """A step or iteration budget as an int, or None (no budget): a whole number >= 0; a float that is a whole
    number (1e5) counts as that int, as on the command line."""
    if value is None:
        return None
    hint = f"pass e.g. {name}=100000 (or 1e5), or None for no budget"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise EntryTypeError(f"{entry}: {name} must be a whole number >= 0 or None, got {_shown(value)}: {hint}")
    if not isinstance(value, numbers.Integral):
        if not math.isfinite(value) or value != int(value):
            raise ConfigError(f"{entry}: {name} must be a whole number >= 0 or None, got {value!r}: {hint}")
    if value < 0:
        raise ConfigError(f"{entry}: {name} must be >= 0, got {value!r}: {hint}")
    return int(value)


def check_model(model: Any, entry: str) -> None:
    """``model`` must be an ``nn.Module`` instance or None (the model the config's ``policy.model`` describes)."""
    import torch

    if model is None or isinstance(model, torch.nn.Module):
        return
    if isinstance(model, type) and issubclass(model, torch.nn.Module):
        raise EntryTypeError(
            f"{entry}: model must be an nn.Module instance, got the class {model.__name__}: pass {model.__name__}(...)"
        )
    raise EntryTypeError(
        f"{entry}: model must be an nn.Module instance or None, got {_shown(model)}: leave it None to build the "
        f"model the config's policy.model describes (its type comes with the policy type)"
    )


def check_env_setting_layout(env_setting: Any, entry: str) -> None:
    """DI-engine's ``[env_fn, collector_env_cfgs, evaluator_env_cfgs]``, or None (the envs of the config); the
    number of env configs is checked against the compiled config later (ding.entry.run.check_env_setting)."""
    if env_setting is None:
        return
    if not (isinstance(env_setting, (list, tuple)) and len(env_setting) == 3 and callable(env_setting[0])):
        raise EntryTypeError(
            f"{entry}: env_setting must be [env_fn, collector_env_cfgs, evaluator_env_cfgs] (DI-engine's layout): "
            f"env_fn(cfg=c) returns a gymnasium env; or None for the config's env; got {_shown(env_setting)}"
        )


def check_entry_arguments(
    entry: str,
    seed: Any,
    model: Any = None,
    env_setting: Any = None,
    max_env_step: Any = None,
    max_train_iter: Any = None,
) -> tuple[int, Optional[int], Optional[int]]:
    """Check an entry's arguments before anything is built; returns ``(seed, max_env_step, max_train_iter)`` as
    ints (None: no budget).

    :raises EntryTypeError: an argument of the wrong type (a ``TypeError``).
    :raises ConfigError: a value out of range (a ``ValueError``).
    """
    seed = check_seed(seed, entry)
    max_env_step = check_budget(max_env_step, "max_env_step", entry)
    max_train_iter = check_budget(max_train_iter, "max_train_iter", entry)
    check_model(model, entry)
    check_env_setting_layout(env_setting, entry)
    return seed, max_env_step, max_train_iter


def check_path_argument(path: Any, name: str, entry: str) -> Optional[str]:
    """A path argument (``load_path``, ``replay_path``): None, or a str / ``os.PathLike`` returned as a str."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise EntryTypeError(f"{entry}: {name} must be a path (str) or None, got {_shown(path)}")
    return os.fspath(path)


def check_output_folder(path: str, name: str, holds: str = "the videos") -> None:
    """Raise ConfigError (naming ``name``, e.g. ``--replay-path``) unless ``path`` is a folder that exists or can be
    created (``holds``: what goes there, for the message). Nothing is left behind: the check creates a temporary
    folder in the nearest existing parent and removes it."""
    full = os.path.abspath(path)
    if os.path.exists(full):
        if not os.path.isdir(full):
            raise ConfigError(f"{name} '{path}' is a file, not a folder: give a folder for {holds}")
        parent = full
    else:
        parent = os.path.dirname(full)
        while not os.path.exists(parent):
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise ConfigError(f"{name} '{path}': cannot create the folder, '{parent}' is a file")
    try:
        os.rmdir(tempfile.mkdtemp(dir=parent, prefix=".ding_write_check_"))
    except OSError as err:
        raise ConfigError(
            f"{name} '{path}': cannot write a folder there ({err.strerror} in '{parent}'): give a folder you can write"
        ) from None
