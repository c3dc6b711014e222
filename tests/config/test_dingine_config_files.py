"""Every config file DI-engine 0.5.3 ships for the envs ding has (Atari, classic control, Box2D, MuJoCo), read as a
user would bring it: it compiles, or ding refuses it with a ConfigError that names what it lacks; never a traceback.

A file whose policy type ding registers must compile, but for the ones in :data:`NEEDS`, each naming the DI-engine
feature ding does not have; those must still be refused by name (when ding gains the feature, move the file out).
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
import zipfile

import pytest

from ding.config import compile_config
from ding.config.config import ConfigError
from ding.utils.registry import POLICY_REGISTRY
from tests.dingine_scripts import fetch_wheel

FOLDERS = ("dizoo/atari/config/serial/", "dizoo/classic_control/", "dizoo/box2d/", "dizoo/mujoco/config/")

# files of a policy type ding has that need a DI-engine feature ding has not: the file -> words of its refusal
NEEDS = {
    "qbert_sqil_config.py": "alpha",  # SQIL
    "pendulum_sqil_sac_config.py": "expert_random_collect_size",  # SQIL
    # offline data generation (collect_count, save_path, a learner's load_path)
    "pong_qrdqn_generation_data_config.py": "collect_count",
    "qbert_qrdqn_generation_data_config.py": "load_path",
    "cartpole_qrdqn_generation_data_config.py": "collect_count",
    "pendulum_sac_data_generation_config.py": "save_path",
    "pendulum_td3_data_generation_config.py": "load_path",
    "hopper_sac_data_generation_config.py": "load_path",
    "hopper_td3_data_generation_config.py": "load_path",
    "cartpole_drex_dqn_config.py": "collector.type='episode'",  # D-REX: episode collection for its reward model
}
REWARD_MODEL = "reward_model"  # GAIL, T-REX, RND, ICM...: learned rewards, which ding does not have


def dingine_config_files() -> dict[str, str]:
    """{path in the wheel: source} of DI-engine's config files under :data:`FOLDERS`."""
    with zipfile.ZipFile(fetch_wheel()) as wheel:
        return {
            name: wheel.read(name).decode("utf-8")
            for name in wheel.namelist()
            if name.startswith(FOLDERS) and name.endswith("_config.py") and "/config/" in name
        }


def load(path: str, source: str) -> tuple[dict, dict]:
    """The file's (main_config, create_config), executed as a module (not as __main__)."""
    namespace: dict = {"__name__": "dingine_config", "__file__": path}
    exec(compile(source, path, "exec"), namespace)
    if "main_config" in namespace and "create_config" in namespace:
        return namespace["main_config"], namespace["create_config"]
    creates = [k for k, v in namespace.items() if k.endswith("create_config") and isinstance(v, dict)]
    mains = [k for k, v in namespace.items() if k.endswith("_config") and k not in creates and isinstance(v, dict)]
    return namespace[mains[0]], namespace[creates[0]]


def outcome(path: str, source: str) -> tuple[str, str]:
    """('ok', ''), ('refused', the ConfigError's message) or ('import', the error) for a file."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                main, create = load(path, source)
            except ImportError as err:  # a DI-engine class ding does not have; the CLI names it ("failed to load")
                return "import", f"{type(err).__name__}: {err}"
            try:
                compile_config(copy.deepcopy(main), create_cfg=copy.deepcopy(create), save_cfg=False, seed=0)
            except ConfigError as err:
                return "refused", str(err)
    return "ok", ""


def test_dingine_config_files_compile_or_are_refused_by_name():
    files = dingine_config_files()
    assert len(files) > 200  # the wheel's files were found
    compiled, refused, failures = [], [], []
    for path, source in sorted(files.items()):
        name = path.rsplit("/", 1)[1]
        try:
            kind, message = outcome(path, source)
        except Exception as err:  # noqa: BLE001 (a traceback a user would see: the failure this test is for)
            failures.append(f"{path}: {type(err).__name__}: {err}")
            continue
        policy_type = load(path, source)[1].get("policy", {}).get("type") if kind != "import" else None
        ours = policy_type is not None and policy_type in POLICY_REGISTRY
        if kind == "ok":
            compiled.append(name)
            if name in NEEDS:
                failures.append(f"{path} now compiles: take it out of NEEDS ({NEEDS[name]!r})")
        elif kind == "refused":
            refused.append(name)
            if name in NEEDS and NEEDS[name] not in message:
                failures.append(f"{path}: refused without naming {NEEDS[name]!r}: {message}")
            elif ours and name not in NEEDS and REWARD_MODEL not in message:
                failures.append(f"{path} (policy type {policy_type!r}, which ding has) is refused: {message}")
    assert not failures, "\n".join(failures)
    # the families the issues promise, among others
    for name in ("pong_rainbow_config.py", "qbert_rainbow_config.py", "spaceinvaders_rainbow_config.py",
                 "pong_c51_config.py", "qbert_qrdqn_config.py", "hopper_sac_config.py", "halfcheetah_td3_config.py",
                 "walker2d_ddpg_config.py", "lunarlander_dqn_config.py", "cartpole_iqn_config.py",
                 "bipedalwalker_sac_config.py", "bipedalwalker_td3_config.py", "bipedalwalker_ppo_config.py"):  # fmt: skip
        assert name in compiled


def test_rainbow_with_implicit_quantiles_is_refused_by_name(tmp_path):
    source = dingine_config_files()["dizoo/atari/config/serial/qbert/qbert_rainbow_config.py"]
    main, create = load("qbert_rainbow_config.py", source)
    assert main.policy.learn.iqn is False  # DI-engine's own file: compiles (above)
    main.policy.learn.iqn = True
    with pytest.raises(ConfigError, match=r"policy.learn.iqn'=True .*policy.type='iqn'"):
        compile_config(main, create_cfg=create, save_cfg=False, seed=0)
