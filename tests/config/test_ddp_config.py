"""ddp_config: the DDP variant of a config differs from it in exp_name and the multi_gpu flag only."""

import copy

from ding.config import compile_config, ddp_config


def test_sets_multi_gpu_and_exp_name_and_leaves_the_rest(cartpole_dqn):
    main, create = cartpole_dqn
    before = copy.deepcopy(main)
    ddp = ddp_config(main, exp_name="cartpole_dqn_ddp_seed0")
    assert main == before, "the single-process config is left unchanged"
    assert ddp.exp_name == "cartpole_dqn_ddp_seed0" and ddp.policy.learn.multi_gpu is True
    ddp.exp_name, ddp.policy.learn = main.exp_name, copy.deepcopy(main.policy.learn)
    assert ddp == main
    cfg = compile_config(ddp_config(main, "x"), create_cfg=create, save_cfg=False)
    assert cfg.policy.multi_gpu is True and cfg.policy.learn.multi_gpu is True


def test_a_config_that_spells_the_flag_policy_multi_gpu_still_compiles(cartpole_dqn):
    # newer DI-engine configs write policy.multi_gpu=False: left alone it would disagree with learn.multi_gpu=True
    main, create = cartpole_dqn
    main.policy.multi_gpu = False
    ddp = ddp_config(main, "x")
    assert ddp.policy.multi_gpu is True and ddp.policy.learn.multi_gpu is True
    cfg = compile_config(ddp, create_cfg=create, save_cfg=False)
    assert cfg.policy.multi_gpu is True


def test_a_config_without_learn_or_policy_gets_them():
    assert ddp_config({"policy": {}}, "a").policy.learn.multi_gpu is True
    assert ddp_config({}, "a").policy.learn.multi_gpu is True
