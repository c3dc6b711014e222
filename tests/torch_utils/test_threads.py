"""The learner's torch thread count on the CPU follows the work of one step (parameters x batch)."""

import pytest
import torch

from ding.torch_utils.threads import limit_cpu_threads


class Lines:
    def __init__(self):
        self.lines = []

    def info(self, line):
        self.lines.append(line)


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("hidden", "batch", "threads"),
    [
        (64, 64, 1),  # MuJoCo PPO's 64x64 (~5k parameters x 64): one thread
        (256, 256, 2),  # SAC-sized 256x256 layers (~135k parameters x 256 = 34M): left alone
        (256, None, 1),  # no batch size known: parameters alone (under 1M)
    ],
)
def test_one_thread_only_for_a_small_step(two_threads, hidden, batch, threads):
    layers = [torch.nn.Linear(11, hidden), torch.nn.Linear(hidden, hidden), torch.nn.Linear(hidden, hidden)]
    model = torch.nn.Sequential(*layers)
    logger = Lines()
    limit_cpu_threads(model, torch.device("cpu"), logger, batch)
    assert torch.get_num_threads() == threads
    assert len(logger.lines) == 1 and f"on the CPU: {threads} torch thread" in logger.lines[0]
    if threads > 1:  # the hint for a machine shared with other work
        assert "OMP_NUM_THREADS=1" in logger.lines[0]


def test_the_users_choice_stands(two_threads, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    limit_cpu_threads(torch.nn.Linear(4, 4), torch.device("cpu"), Lines(), 8)
    assert torch.get_num_threads() == 2
