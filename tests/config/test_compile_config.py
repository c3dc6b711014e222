import os

import pytest
from easydict import EasyDict

from ding.config import ConfigError, compile_config, read_config


def test_defaults_merged_under_user_values(cartpole_dqn):
    main, create = cartpole_dqn
    cfg = compile_config(main, seed=3, create_cfg=create, save_cfg=False)
    assert cfg.seed == 3
    assert cfg.policy.learn.batch_size == 64  # user value
    assert cfg.policy.learn.target_theta == 0.005  # policy default
    assert cfg.policy.learn.learner.hook.log_show_after_iter == 100  # learner default
    assert cfg.policy.eval.evaluator.eval_freq == 40
    assert cfg.policy.other.replay_buffer.replay_buffer_size == 20000
    assert cfg.policy.other.replay_buffer.alpha == 0.6  # buffer default
    assert cfg.env.manager.type == "base"
    assert cfg.env.type == "cartpole" and cfg.policy.type == "dqn"
    assert cfg.env.env_id == "CartPole-v0"  # the env type's own default
    assert cfg.policy.model.dueling is True and cfg.policy.model.head_layer_num == 1  # model signature defaults


def test_unknown_key_names_key_and_closest(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.learn.batchsize = 32
    with pytest.raises(ConfigError) as err:
        compile_config(main, create_cfg=create, save_cfg=False)
    assert "'policy.learn.batchsize'" in str(err.value)
    assert "policy.learn.batch_size" in str(err.value)


def test_key_at_wrong_level_points_to_where_it_belongs(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.update_per_collect = 3
    with pytest.raises(ConfigError, match=r"policy\.learn\.update_per_collect"):
        compile_config(main, create_cfg=create, save_cfg=False)


def test_unknown_model_key_checked_against_constructor(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.model.encoder_hidden_sizes = [64]
    with pytest.raises(ConfigError, match="encoder_hidden_size_list"):
        compile_config(main, create_cfg=create, save_cfg=False)


@pytest.mark.parametrize(
    "path, value, expect",
    [
        ("policy.learn.batch_size", "64", "must be an int"),
        ("policy.learn.batch_size", 6.5, "must be an int"),
        ("policy.cuda", 1, "must be a bool"),
        ("policy.discount_factor", "0.9", "must be a number"),
        ("env.collector_env_num", 0, ">= 1"),
        ("policy.nstep", 0, ">= 1"),
        ("policy.discount_factor", 1.5, r"\[0, 1\]"),
        ("policy.other.eps.type", "cosine", "'exp' or 'linear'"),
        ("policy.learn.ignore_done", 1, "must be a bool"),
    ],
)
def test_bad_values_are_clear_errors(cartpole_dqn, path, value, expect):
    main, create = cartpole_dqn
    node = main
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, EasyDict())
    node[leaf] = value
    with pytest.raises(ConfigError, match=expect):
        compile_config(main, create_cfg=create, save_cfg=False)


def test_integral_float_accepted_as_int(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.other.replay_buffer.replay_buffer_size = 1e5
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    assert cfg.policy.other.replay_buffer.replay_buffer_size == 100000
    assert isinstance(cfg.policy.other.replay_buffer.replay_buffer_size, int)


def test_unknown_type_lists_available(cartpole_dqn):
    main, create = cartpole_dqn
    create.policy.type = "dqnn"
    with pytest.raises(ConfigError) as err:
        compile_config(main, create_cfg=create, save_cfg=False)
    assert "dqnn" in str(err.value) and "dqn" in str(err.value) and "Did you mean 'dqn'" in str(err.value)


def test_missing_type(cartpole_dqn):
    main, create = cartpole_dqn
    create.pop("policy")
    with pytest.raises(ConfigError, match="create_config.policy.type"):
        compile_config(main, create_cfg=create, save_cfg=False)


def test_import_names_failure_names_module(cartpole_dqn):
    main, create = cartpole_dqn
    create.env.import_names = ["no_such_module.envs"]
    with pytest.raises(ConfigError, match="no_such_module.envs"):
        compile_config(main, create_cfg=create, save_cfg=False)


def test_unknown_create_section_and_worker_type(cartpole_dqn):
    main, create = cartpole_dqn
    create.reward_model = dict(type="rnd")
    with pytest.raises(ConfigError, match="reward_model"):
        compile_config(main, create_cfg=create, save_cfg=False)
    create.pop("reward_model")
    create.collector = dict(type="episode")
    with pytest.raises(ConfigError, match="collector type 'sample'"):
        compile_config(main, create_cfg=create, save_cfg=False)


def test_missing_model_shape_comes_from_the_env(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.model.pop("obs_shape")
    assert compile_config(main, create_cfg=create, save_cfg=False).policy.model.obs_shape == 4  # CartPole's (4,)


def test_bad_config_writes_nothing(cartpole_dqn, in_tmp):
    main, create = cartpole_dqn
    main.policy.learn.lr = 0.1
    with pytest.raises(ConfigError, match="learning_rate"):
        compile_config(main, create_cfg=create)
    assert os.listdir(in_tmp) == []


def test_saved_config_loads_and_compiles_to_the_same(cartpole_dqn, in_tmp):
    main, create = cartpole_dqn
    main.env.stop_value = float("inf")
    cfg = compile_config(main, seed=1, create_cfg=create)
    assert cfg.exp_name == "cartpole_dqn_seed1"  # the folder follows the seed
    saved = os.path.join(cfg.exp_name, "total_config.py")
    main2, create2 = read_config(saved)
    again = compile_config(main2, seed=1, create_cfg=create2, save_cfg=False)
    again.exp_name = cfg.exp_name
    assert again == cfg


@pytest.mark.parametrize(
    "exp_name, seed, folder",
    [
        ("cartpole_dqn_seed0", 1, "cartpole_dqn_seed1"),
        ("cartpole_dqn_seed0", 0, "cartpole_dqn_seed0"),
        ("cartpole_dqn_seed7", 12, "cartpole_dqn_seed12"),
        ("runs/cartpole_dqn_seed0", 3, "runs/cartpole_dqn_seed3"),
        ("my_run", 1, "my_run"),  # no _seed<N> at the end: kept as written
        ("seed0_run", 1, "seed0_run"),
        ("cartpole_seed0_lr3", 1, "cartpole_seed0_lr3"),
        (None, 4, "cartpole_dqn_seed4"),  # the default name
    ],
)
def test_exp_folder_follows_the_seed(cartpole_dqn, in_tmp, exp_name, seed, folder):
    main, create = cartpole_dqn
    main.exp_name = exp_name
    cfg = compile_config(main, seed=seed, create_cfg=create)
    assert cfg.exp_name == folder and os.path.isfile(os.path.join(folder, "total_config.py"))


def test_exp_folder_never_overwritten(cartpole_dqn, in_tmp):
    main, create = cartpole_dqn
    first = compile_config(main, create_cfg=create).exp_name
    second = compile_config(main, create_cfg=create).exp_name
    third = compile_config(main, create_cfg=create).exp_name
    assert (first, second, third) == ("cartpole_dqn_seed0", "cartpole_dqn_seed0_2", "cartpole_dqn_seed0_3")


def test_exp_folder_not_writable_is_config_error(cartpole_dqn, in_tmp):
    main, create = cartpole_dqn
    blocker = in_tmp / "file"
    blocker.write_text("x")
    main.exp_name = str(blocker / "exp")
    with pytest.raises(ConfigError, match="cannot create the experiment folder"):
        compile_config(main, create_cfg=create)


def test_read_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_config(str(tmp_path / "none.py"))
    bad = tmp_path / "bad.py"
    bad.write_text("main_config = {}\n")
    with pytest.raises(ConfigError, match="create_config"):
        read_config(str(bad))
    broken = tmp_path / "broken.py"
    broken.write_text("main_config = {\n")
    with pytest.raises(ConfigError, match="failed to load"):
        read_config(str(broken))


@pytest.mark.parametrize("where", ["policy", "learn"])
def test_multi_gpu_flag_in_either_place_means_the_same(cartpole_dqn, where):
    main, create = cartpole_dqn
    (main.policy if where == "policy" else main.policy.learn).multi_gpu = True
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    assert cfg.policy.multi_gpu is True and cfg.policy.learn.multi_gpu is True


def test_multi_gpu_flags_that_disagree_are_an_error(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.multi_gpu = True
    main.policy.learn.multi_gpu = False
    with pytest.raises(ConfigError, match="disagree"):
        compile_config(main, create_cfg=create, save_cfg=False)
