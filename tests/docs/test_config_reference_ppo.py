"""The config reference documents every key of the compiled PPO configs (CartPole and Pendulum)."""

import copy

import pytest

from ding.config import compile_config
from ding.config.reference import COMMAND, reference_sections
from tests.docs.test_config_reference import _leaves


@pytest.mark.parametrize(
    "module",
    [
        "dizoo.classic_control.cartpole.config.cartpole_ppo_config",
        "dizoo.classic_control.pendulum.config.pendulum_ppo_config",
    ],
)
def test_every_compiled_ppo_key_is_documented(module):
    import importlib

    config = importlib.import_module(module)
    compiled = compile_config(
        copy.deepcopy(config.main_config), create_cfg=copy.deepcopy(config.create_config), save_cfg=False
    )
    documented = {row.key for section in reference_sections() for row in section.rows}
    missing = sorted(_leaves(compiled) - documented)
    assert not missing, f"keys of the compiled {module} missing from the reference: {missing}; {COMMAND}"


def test_ppo_page_names_every_key_and_logged_value():
    import os

    from ding.config.config import model_default_config
    from ding.model.vac import VAC
    from ding.policy.ppo import PPOPolicy
    from tests.conftest import REPO_ROOT

    page = open(os.path.join(REPO_ROOT, "docs", "ppo.md"), encoding="utf-8").read()
    keys = {path.rpartition(".")[2] for path in _leaves(PPOPolicy.config)} | set(model_default_config(VAC))
    missing = sorted(key for key in keys - {"type"} if f"{key}`" not in page and f"{key}," not in page)
    assert not missing, f"docs/ppo.md does not mention {missing}"
    for logged in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance"):
        assert f"`{logged}`" in page
