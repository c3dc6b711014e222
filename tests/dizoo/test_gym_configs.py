"""The LunarLander-v3 and Acrobot-v1 configs (env type 'gym') train for a few hundred env steps, and DI-engine's own
LunarLander and Acrobot files (env types 'lunarlander' and 'acrobot', id 'LunarLander-v2') still build their envs.
The full runs to the stop value are benchmarks/bench_lunarlander.py."""

import copy
import importlib
import importlib.util

import pytest

from ding.config import compile_config
from ding.envs.env import make_env

NEEDS_BOX2D = pytest.mark.skipif(
    importlib.util.find_spec("Box2D") is None,
    reason="LunarLander needs Box2D: pip install -e '.[box2d]' (or pip install 'gymnasium[box2d]')",
)
LUNAR = "dizoo.box2d.lunarlander.config"
CONFIGS = [
    pytest.param(f"{LUNAR}.lunarlander_dqn_config", "serial", marks=NEEDS_BOX2D),
    pytest.param(f"{LUNAR}.lunarlander_ppo_config", "serial_onpolicy", marks=NEEDS_BOX2D),
    pytest.param("dizoo.classic_control.acrobot.config.acrobot_dqn_config", "serial"),
]


@pytest.mark.parametrize("name, pipeline", CONFIGS)
def test_config_trains_a_few_hundred_steps(name, pipeline, in_tmp, capsys):
    import ding.entry

    module = importlib.import_module(name)
    main, create = copy.deepcopy(module.main_config), copy.deepcopy(module.create_config)
    cfg = compile_config(copy.deepcopy(main), create_cfg=copy.deepcopy(create), save_cfg=False)
    assert cfg.env.type == "gym" and cfg.env.env_id in ("LunarLander-v3", "Acrobot-v1")
    # a cheap evaluation; no stop: 100-step Acrobot episodes would "reach" its -100
    main.env.update(evaluator_env_num=2, n_evaluator_episode=2, max_episode_steps=100, stop_value=10**6)
    if pipeline == "serial_onpolicy":
        main.policy.collect.n_sample = 256
    run = ding.entry.serial_pipeline if pipeline == "serial" else ding.entry.serial_pipeline_onpolicy
    run((main, create), seed=0, max_env_step=256)
    out = capsys.readouterr().out
    assert "finished (max_env_step=256 reached)" in out


@NEEDS_BOX2D
def test_di_engine_lunarlander_type_runs_its_v2_id_as_v3():
    importlib.import_module("dizoo.box2d.lunarlander.envs.lunarlander_env")
    with pytest.warns(UserWarning, match="'LunarLander-v2'.*'LunarLander-v3'"):
        env = make_env(dict(type="lunarlander", env_id="LunarLander-v2"))
    assert env.spec.id == "LunarLander-v3" and env.observation_space.shape == (8,) and env.action_space.n == 4
    continuous = make_env(dict(type="lunarlander", env_id="LunarLanderContinuous-v3", act_scale=True))
    assert continuous.action_space.shape == (2,)


def test_di_engine_lunarlander_gif_replays_are_refused():
    from ding.config import ConfigError

    importlib.import_module("dizoo.box2d.lunarlander.envs.lunarlander_env")
    with pytest.raises(ConfigError, match="save_replay_gif"):
        make_env(dict(type="lunarlander", save_replay_gif=True))


def test_di_engine_acrobot_type_is_gymnasiums_acrobot():
    importlib.import_module("dizoo.classic_control.acrobot.envs.acrobot_env")
    env = make_env(dict(type="acrobot"))
    assert env.spec.id == "Acrobot-v1" and env.observation_space.shape == (6,) and env.action_space.n == 3


def di_engine_lunarlander_dqn() -> tuple[dict, dict]:
    """DI-engine 0.5.3's dizoo/box2d/lunarlander/config/lunarlander_dqn_config.py, its dicts as written there."""
    main = dict(
        exp_name="lunarlander_dqn_seed0",
        env=dict(
            collector_env_num=8, evaluator_env_num=8, env_id="LunarLander-v2", n_evaluator_episode=8, stop_value=200
        ),
        policy=dict(
            cuda=True,
            load_path="./lunarlander_dqn_seed0/ckpt/ckpt_best.pth.tar",
            model=dict(obs_shape=8, action_shape=4, encoder_hidden_size_list=[512, 64], dueling=True),
            discount_factor=0.99,
            nstep=3,
            learn=dict(update_per_collect=10, batch_size=64, learning_rate=0.001, target_update_freq=100),
            collect=dict(n_sample=64, unroll_len=1),
            other=dict(
                eps=dict(type="exp", start=0.95, end=0.1, decay=50000), replay_buffer=dict(replay_buffer_size=100000)
            ),
        ),
    )
    create = dict(
        env=dict(type="lunarlander", import_names=["dizoo.box2d.lunarlander.envs.lunarlander_env"]),
        env_manager=dict(type="subprocess"),
        policy=dict(type="dqn"),
    )
    return main, create


def test_di_engine_lunarlander_file_compiles_to_the_v3_id_with_one_warning():
    main, create = di_engine_lunarlander_dqn()
    with pytest.warns(UserWarning) as caught:
        cfg = compile_config(main, create_cfg=create, save_cfg=False)
    renamed = [w for w in caught if "'LunarLander-v2'" in str(w.message)]
    assert len(renamed) == 1 and "'LunarLander-v3'" in str(renamed[0].message)
    # the env workers build the id the compiled config names: they have nothing more to say
    assert cfg.env.env_id == "LunarLander-v3" and cfg.env.type == "lunarlander"


@NEEDS_BOX2D
def test_di_engine_bipedalwalker_type_floors_a_fall_at_minus_10_in_training_only():
    """DI-engine's env type 'bipedalwalker' with its rew_clip: a fall's -100 counts -10 in the collector's envs; the
    evaluator's envs (is_train=False) score the raw game, as DI-engine's evaluator reports it."""
    import numpy as np

    importlib.import_module("dizoo.box2d.bipedalwalker.envs.bipedalwalker_env")
    train = make_env(dict(type="bipedalwalker", rew_clip=True, is_train=True))
    evaluation = make_env(dict(type="bipedalwalker", rew_clip=True, is_train=False))
    assert train.observation_space.shape == (24,) and train.action_space.shape == (4,)
    train.reset(seed=0)
    evaluation.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(1600):  # random torques: this seed's walker falls within ~60 steps
        action = rng.uniform(-1, 1, 4).astype(np.float32)
        _, train_reward, train_end, _, _ = train.step(action)
        _, raw_reward, raw_end, _, _ = evaluation.step(action)
        if raw_end:
            break
    assert raw_end and train_end and raw_reward == -100 and train_reward == -10
    unclipped = make_env(dict(type="bipedalwalker", is_train=True))  # rew_clip's default: the raw game
    unclipped.reset(seed=0)
    rng = np.random.default_rng(0)
    rewards = [unclipped.step(rng.uniform(-1, 1, 4).astype(np.float32))[1] for _ in range(60)]
    assert min(rewards) == -100


@NEEDS_BOX2D
@pytest.mark.parametrize("manager", ["base", "subprocess"])
def test_bipedalwalker_collector_logs_the_raw_games_return(manager):
    """With rew_clip the collector learns from floored rewards but logs the walker's real score, as DI-engine's
    collector does: the training env reports the raw return at the episode's end."""
    import numpy as np

    from ding.utils.registry import ENV_MANAGER_REGISTRY

    module = "dizoo.box2d.bipedalwalker.envs.bipedalwalker_env"
    importlib.import_module(module)
    cfg = dict(type="bipedalwalker", import_names=[module], rew_clip=True, manager=dict(shared_memory=False))
    manager_cls = ENV_MANAGER_REGISTRY.get(manager)
    train = manager_cls.build(cfg, 1, is_train=True)
    evaluation = manager_cls.build(cfg, 1, is_train=False)
    try:
        train.reset([0])
        evaluation.reset([0])
        rng = np.random.default_rng(0)
        clipped, raw = [], []
        for _ in range(1600):  # random torques: this seed's walker falls within ~60 steps
            action = rng.uniform(-1, 1, (1, 4)).astype(np.float32)
            step, raw_step = train.step(action), evaluation.step(action)
            clipped.append(float(step.reward[0]))
            raw.append(float(raw_step.reward[0]))
            if step.terminated[0] or step.truncated[0]:
                break
    finally:
        train.close()
        evaluation.close()
    assert min(raw) == -100 and min(clipped) == -10  # the training env learnt from the floored fall
    assert raw_step.episode_return[0] == pytest.approx(sum(raw))
    assert step.episode_return[0] == pytest.approx(sum(raw)) != pytest.approx(sum(clipped))
    assert step.episode_length[0] == len(raw)


@pytest.mark.slow
@NEEDS_BOX2D
def test_dingine_carracing_dqn_config_runs_on_the_carracing_type(in_tmp):
    """DI-engine's carracing_dqn_config.py (env type 'carracing', 'CarRacing-v2', continuous=False): channel-first
    uint8 frames, 5 actions, the DQN's conv encoder on them, through the pipeline (a shortened run)."""
    import zipfile

    import numpy as np

    from ding.entry import serial_pipeline
    from tests.dingine_scripts import fetch_wheel

    with zipfile.ZipFile(fetch_wheel()) as wheel:
        source = wheel.read("dizoo/box2d/carracing/config/carracing_dqn_config.py").decode()
    namespace = {"__name__": "dingine_config"}
    exec(compile(source, "carracing_dqn_config.py", "exec"), namespace)
    main, create = copy.deepcopy(namespace["main_config"]), copy.deepcopy(namespace["create_config"])
    main.env.update(collector_env_num=2, evaluator_env_num=1, n_evaluator_episode=1, max_episode_steps=40)
    main.policy.other.replay_buffer.replay_buffer_size = 2000
    create.env_manager.type = "base"
    policy = serial_pipeline((main, create), seed=0, max_env_step=256)
    assert policy is not None
    importlib.import_module("dizoo.box2d.carracing.envs.carracing_env")
    env = make_env(dict(type="carracing", env_id="CarRacing-v3"))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == obs.shape == (3, 96, 96) and obs.dtype == np.uint8
    assert env.action_space.n == 5
    with pytest.raises(Exception, match="save_replay_gif"):
        make_env(dict(type="carracing", env_id="CarRacing-v3", save_replay_gif=True))
