"""Shared fixtures: every test runs with one torch/OpenMP thread (2-core machines thrash otherwise)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import copy  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def cartpole_dqn():
    """Fresh copies of the shipped CartPole DQN (main_config, create_config)."""
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config

    return copy.deepcopy(main_config), copy.deepcopy(create_config)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run the test with the working directory in a fresh temporary folder (experiment folders land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
