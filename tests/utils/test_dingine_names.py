"""DI-engine's DDP names in ding.utils: DDPContext, dist_init, dist_finalize, to_ddp_config (its DDP guide and
pong_dqn_ddp_config.py import them from there). A whole DI-engine DDP script under torch.distributed.launch runs in
tests/entry/test_launch_rules.py."""

import json

import pytest

import ding.utils
from ding.utils import DDPContext, DistContext, dist_finalize, dist_init, get_world_size, spawn, to_ddp_config


def test_the_names_are_where_dingine_scripts_import_them():
    for name in ("DDPContext", "dist_init", "dist_finalize", "to_ddp_config"):
        assert name in ding.utils.__all__ and getattr(ding.utils, name) is not None
    assert issubclass(DDPContext, DistContext)


def test_to_ddp_config_returns_a_copy_with_multi_gpu_on(cartpole_dqn):
    main, _ = cartpole_dqn
    ddp = to_ddp_config(main)
    assert ddp is not main and ddp.policy.learn.multi_gpu is True
    assert main.policy.learn.get("multi_gpu") is None  # the argument is left alone
    assert (ddp.policy.learn.batch_size, ddp.policy.collect.n_sample) == (64, 8)  # world size 1: the totals


def test_to_ddp_config_keeps_dingine_spelling_of_multi_gpu_in_agreement(cartpole_dqn):
    from ding.config import compile_config

    main, create = cartpole_dqn
    main.policy.multi_gpu = False
    ddp = to_ddp_config(main)
    assert ddp.policy.multi_gpu is True and ddp.policy.learn.multi_gpu is True
    assert compile_config(ddp, create_cfg=create, save_cfg=False).policy.learn.multi_gpu is True


def test_dist_init_and_finalize_in_one_process():
    assert dist_init() == (0, 1)
    with pytest.raises(RuntimeError, match="dist_finalize"):
        dist_init()
    dist_finalize()
    dist_finalize()  # nothing started: a no-op
    assert get_world_size() == 1


@pytest.mark.multiprocess
def test_dist_init_and_finalize_start_and_end_the_group(tmp_path):
    from tests.launch_helpers import dist_init_rank

    spawn(dist_init_rank, 2, str(tmp_path))
    for rank in (0, 1):
        record = json.loads((tmp_path / f"r{rank}.json").read_text())
        assert record == dict(rank=rank, world_size=2, total=3.0, inside=2, after=1)
