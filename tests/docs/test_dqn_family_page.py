"""docs/dqn_family.md names every key of the C51, QR-DQN, IQN and Rainbow policies and models, and every logged value."""

import os

from ding.config.config import model_default_config
from ding.model import C51DQN, IQN, QRDQN, RainbowDQN
from ding.policy.c51 import C51Policy
from ding.policy.iqn import IQNPolicy
from ding.policy.qrdqn import QRDQNPolicy
from ding.policy.rainbow import RainbowPolicy
from tests.conftest import REPO_ROOT
from tests.docs.test_config_reference import _leaves


def test_page_names_every_own_key_and_logged_value():
    page = open(os.path.join(REPO_ROOT, "docs", "dqn_family.md"), encoding="utf-8").read()
    keys = set()
    for policy in (C51Policy, QRDQNPolicy, IQNPolicy, RainbowPolicy):
        keys |= {path.rpartition(".")[2] for path in _leaves(policy.__dict__["config"])} - {"type"}
    for model in (C51DQN, QRDQN, IQN, RainbowDQN):
        keys |= set(model_default_config(model)) - {"obs_shape", "action_shape"}
    keys |= {"cur_lr", "total_loss", "q_value", "target_q_value", "priority", "priority_IS_weight", "kappa"}
    missing = sorted(key for key in keys if f"`{key}`" not in page and f".{key}`" not in page and key not in page)
    assert not missing, f"docs/dqn_family.md does not name {missing}"
    for name in ("c51dqn", "qrdqn", "iqn", "rainbowdqn", "c51_noisy_dueling", "iqn_noisy_dueling"):
        assert name in page
