"""AtariEnvManager (ale-py's C++ vector env): shapes, stack conventions, episodic life and the returns it reports,
reward clipping only in training, seeding, the asynchronous send/recv interface, errors that do not hang."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from easydict import EasyDict

pytest.importorskip("ale_py")

from ding.envs import EnvStep  # noqa: E402
from ding.envs.env_manager import AsyncEnvManager  # noqa: E402
from ding.envs.env_manager.atari_env_manager import ATARI_ENV_KEYS, AtariEnvManager, ale_game  # noqa: E402
from ding.utils.registry import ENV_MANAGER_REGISTRY  # noqa: E402
from ding.utils.timing import TimedEnvManager  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def atari_cfg(env_id: str = "PongNoFrameskip-v4", **values) -> EasyDict:
    return EasyDict(type="atari", import_names=["dizoo.atari.envs"], env_id=env_id, **values)


def run(manager: AtariEnvManager, actions: np.ndarray) -> list[EnvStep]:
    """Copies of the EnvSteps of ``manager.step`` over ``actions`` (steps, E)."""
    return [EnvStep(*(np.array(field, copy=True) for field in manager.step(a))) for a in actions]


def random_actions(manager: AtariEnvManager, steps: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, manager.action_space.n, (steps, manager.env_num))


def test_registered_with_defaults_and_ale_imported_lazily():
    assert ENV_MANAGER_REGISTRY.get("atari") is AtariEnvManager
    cfg = AtariEnvManager.default_config()
    assert cfg == {
        "type": "atari",
        "num_threads": 0,
        "thread_affinity_offset": -1,
        "batch_size": 0,
    }
    cfg.num_threads = 3
    assert AtariEnvManager.config["num_threads"] == 0  # a deep copy
    code = (
        "import sys; from ding.utils.registry import ENV_MANAGER_REGISTRY; ENV_MANAGER_REGISTRY.get('atari'); "
        "import ding.envs; assert 'ale_py' not in sys.modules and 'gymnasium' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_env_ids_map_to_ale_games():
    assert ale_game("SpaceInvadersNoFrameskip-v4") == ("space_invaders", "SpaceInvaders")
    assert ale_game("ALE/SpaceInvaders-v5") == ("space_invaders", "SpaceInvaders")
    assert ale_game("ALE/Qbert-v5") == ale_game("QbertNoFrameskip-v4") == ("qbert", "Qbert")
    with pytest.raises(ValueError, match="NoFrameskip-v4.*ALE/<Game>-v5"):
        ale_game("SpaceInvaders-v4")  # v4 with frameskip 2-5: not a DeepMind setting
    with pytest.raises(ValueError, match="Did you mean 'SpaceInvaders'"):
        ale_game("SpaceInvaderNoFrameskip-v4")


def test_shapes_dtypes_spaces_and_threads():
    with AtariEnvManager.build(atari_cfg(), 2, is_train=False) as manager:
        assert manager.observation_space.shape == (4, 84, 84) and manager.observation_space.dtype == np.uint8
        from ding.envs.spaces import is_stacked_frames

        assert is_stacked_frames(manager.observation_space)  # so off-policy replay stores each frame once
        assert manager.action_space.n == 6 and manager.env_num == 2
        assert manager.num_threads == min(len(os.sched_getaffinity(0)), 2)
        obs = manager.reset(0)
        assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
        out = manager.step(np.array([0, 1]))
        assert out.obs.shape == out.final_obs.shape == (2, 4, 84, 84) and out.obs.dtype == np.uint8
        assert out.reward.dtype == np.float32 and out.terminated.dtype == out.truncated.dtype == np.bool_
        assert out.episode_return.dtype == np.float64 and np.isnan(out.episode_return).all()
        assert out.episode_length.dtype == np.int64 and (out.episode_length == 0).all()
    assert manager.closed
    manager.close()  # again: nothing


def test_reset_stack_is_zero_padded_and_each_step_shifts_it():
    with AtariEnvManager.build(atari_cfg("SpaceInvadersNoFrameskip-v4"), 2) as manager:
        obs = manager.reset([3, 4])
        assert (obs[:, :3] == 0).all() and (obs[:, 3] > 0).any(axis=(1, 2)).all()
        for out in run(manager, random_actions(manager, 40)):
            assert not (out.terminated | out.truncated).any()
            np.testing.assert_array_equal(out.obs[:, :3], obs[:, 1:])
            np.testing.assert_array_equal(out.final_obs, out.obs)
            obs = out.obs


def test_frame_cap_truncates_with_final_obs_and_a_fresh_stack():
    with AtariEnvManager.build(atari_cfg(max_episode_frames=40), 2, is_train=False) as manager:
        obs = manager.reset(0)
        outs = run(manager, random_actions(manager, 12))
        for t, out in enumerate(outs[:9]):
            assert not (out.terminated | out.truncated).any(), t
        end = outs[9]  # 40 frames of play = 10 steps of 4 frames
        assert end.truncated.all() and not end.terminated.any()
        np.testing.assert_array_equal(end.final_obs[:, :3], outs[8].obs[:, 1:])
        assert (end.obs[:, :3] == 0).all() and (end.obs[:, 3] > 0).any(axis=(1, 2)).all()
        assert (end.episode_length == 10).all()
        rewards = np.sum([o.reward for o in outs[:10]], axis=0)
        np.testing.assert_array_equal(end.episode_return, rewards)
        np.testing.assert_array_equal(outs[10].obs[:, 2:], np.stack([end.obs[:, 3], outs[10].obs[:, 3]], axis=1))
        assert obs.shape == end.obs.shape


def test_training_ends_at_life_losses_clips_rewards_and_reports_whole_games():
    """Training and evaluation envs with the same seeds and actions play the same game (episodic life only cuts
    episodes): check the training side against the evaluation side, step by step, over whole games."""
    cfg, seeds = atari_cfg("SpaceInvadersNoFrameskip-v4"), [11, 12]
    with AtariEnvManager.build(cfg, 2, is_train=True) as train, AtariEnvManager.build(cfg, 2, is_train=False) as ev:
        train_obs, eval_obs = train.reset(seeds), ev.reset(seeds)
        np.testing.assert_array_equal(train_obs, eval_obs)
        since_start = np.zeros(2, dtype=int)  # steps since the training episode began (stack frames that are valid)
        game_return, game_length = np.zeros(2), np.zeros(2, dtype=int)
        life_loss_ends, game_ends, raw_rewards = 0, 0, set()
        for action in random_actions(train, 2000, seed=1):
            tr, ev_out = train.step(action), ev.step(action)
            raw_rewards.update(ev_out.reward.tolist())
            np.testing.assert_array_equal(tr.reward, np.sign(ev_out.reward))  # clipped only in training
            game_return += ev_out.reward
            game_length += 1
            ev_done = ev_out.terminated | ev_out.truncated
            assert not np.isnan(ev_out.episode_return[ev_done]).any()  # evaluation: every end is a game's end
            for i in range(2):
                expected_final = ev_out.final_obs[i].copy()
                expected_final[: max(0, 2 - since_start[i])] = 0  # frames from before a life-loss restart
                np.testing.assert_array_equal(tr.final_obs[i], expected_final)
                if ev_done[i]:  # the game ended: the same in training, with the whole game's raw return
                    assert tr.terminated[i] == ev_out.terminated[i] and tr.truncated[i] == ev_out.truncated[i]
                    assert tr.episode_return[i] == ev_out.episode_return[i] == game_return[i]
                    assert tr.episode_length[i] == ev_out.episode_length[i] == game_length[i]
                    np.testing.assert_array_equal(tr.obs[i], ev_out.obs[i])  # a reset stack: [0, 0, 0, frame]
                    game_return[i], game_length[i], since_start[i] = 0.0, 0, 0
                    game_ends += 1
                elif tr.terminated[i]:  # a life lost: the training episode ends, the game goes on
                    assert np.isnan(tr.episode_return[i]) and tr.episode_length[i] == 0 and not tr.truncated[i]
                    assert (tr.obs[i, :3] == 0).all()
                    np.testing.assert_array_equal(tr.obs[i, 3], ev_out.obs[i, 3])
                    since_start[i] = 0
                    life_loss_ends += 1
                else:
                    since_start[i] += 1
                    expected = ev_out.obs[i].copy()
                    expected[: max(0, 3 - since_start[i])] = 0
                    np.testing.assert_array_equal(tr.obs[i], expected)
                    assert np.isnan(tr.episode_return[i]) and tr.episode_length[i] == 0
            if game_ends >= 2:
                break
        assert game_ends >= 2 and life_loss_ends >= 2 * game_ends  # SpaceInvaders: 3 lives
        assert max(raw_rewards) > 1  # the evaluation side saw raw scores (5 to 30 per invader)


def test_same_seeds_same_trajectories_different_seeds_differ():
    # a seeded reset reloads each env's ROM (~0.1 s an env): one manager of 2 envs, reset several times
    with AtariEnvManager.build(atari_cfg("BreakoutNoFrameskip-v4", max_episode_frames=200), 2) as manager:
        actions = random_actions(manager, 80)
        actions[:, 1] = actions[:, 0]
        runs = [(manager.reset(seeds), run(manager, actions)) for seeds in ([5, 5], [5, 5], [6, 2**32 - 1])]
        int_seeded = manager.reset(5)  # env i gets 5 + i
    (obs_a, steps_a), (obs_b, steps_b), (obs_c, steps_c) = runs
    assert any(s.truncated.any() for s in steps_a)  # an episode end, and a reset from the env's running RNG
    np.testing.assert_array_equal(obs_a, obs_b)
    for a, b in zip(steps_a, steps_b, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    obs_of = {
        (r, env): np.stack([s.obs[env] for s in steps]) for r, steps in enumerate((steps_a, steps_c)) for env in (0, 1)
    }
    np.testing.assert_array_equal(obs_of[0, 0], obs_of[0, 1])  # same seed and actions: the envs share nothing
    assert not np.array_equal(obs_of[0, 0], obs_of[1, 0])  # another seed: other no-op starts
    np.testing.assert_array_equal(int_seeded[0], obs_a[0])
    np.testing.assert_array_equal(int_seeded[1], obs_c[0])


def test_batches_smaller_than_the_envs_make_the_manager_asynchronous():
    cfg = atari_cfg(manager=dict(batch_size=1, num_threads=1))
    with AtariEnvManager.build(cfg, 2) as manager:  # batch_size < env_num
        assert manager.asynchronous is True and isinstance(manager, AsyncEnvManager)
        assert TimedEnvManager(manager).asynchronous is True  # the wrapper the pipelines time envs with
    with AtariEnvManager.build(cfg, 1) as manager:  # batch_size == env_num
        assert manager.asynchronous is False
    with AtariEnvManager.build(cfg, 2, is_train=False) as manager:  # evaluators step all their envs together
        assert manager.asynchronous is False


def test_async_send_recv_gives_each_env_the_trajectory_of_sync_stepping():
    # 4 async envs in batches of 2; envs 2 and 3 replay envs 0 and 1 (seeds, actions) of a 2-env synchronous run
    # (a vector env's construction and a seeded reset load each env's ROM, ~0.1 s an env: few envs)
    cfg, steps = atari_cfg("BreakoutNoFrameskip-v4", max_episode_frames=122), 45
    rng = np.random.default_rng(2)
    actions = np.tile(rng.integers(0, 4, (2, 4 * steps)), (2, 1))  # actions[env, t]; envs back first run ahead
    with AtariEnvManager.build(cfg, 2) as sync:
        sync.reset([1, 2])
        expected = run(sync, actions[:2, :steps].T)
    with AtariEnvManager.build({**cfg, "manager": dict(batch_size=2)}, 4) as m:
        assert m.asynchronous
        with pytest.raises(RuntimeError, match="asynchronous"):
            m.reset([1, 2, 1, 2])
        m.async_reset([1, 2, 1, 2])
        got = {i: [] for i in range(4)}
        sent = np.zeros(4, dtype=int)  # actions sent to each env
        while min(len(results) for results in got.values()) <= steps:
            out, env_ids = m.recv()
            assert len(env_ids) == 2 and out.obs.shape == (2, 4, 84, 84)
            for row, env in enumerate(env_ids):
                if sent[env] == 0 and not got[env]:  # the env's reset result
                    assert out.reward[row] == 0 and not out.terminated[row] and not out.truncated[row]
                    got[env].append(None)
                else:
                    got[env].append(EnvStep(*(np.array(field[row], copy=True) for field in out)))
            order = env_ids[::-1]  # any order of the batch's envs
            m.send(actions[order, sent[order]], order)
            sent[env_ids] += 1
        for env in range(4):
            for t in range(steps):
                step = got[env][t + 1]
                for name, x in zip(EnvStep._fields, step, strict=True):
                    want = getattr(expected[t], name)[env % 2]
                    np.testing.assert_array_equal(x, want, err_msg=f"env {env} t {t} {name}")
        # the trajectories went through life losses (training envs) and the frame cap (mid-step: 122 frames)
        assert any((s.terminated & np.isnan(s.episode_return)).any() for s in expected)
        assert any(s.truncated.any() for s in expected)


def test_sync_send_recv_equals_step():
    cfg = atari_cfg()
    with AtariEnvManager.build(cfg, 2) as a, AtariEnvManager.build(cfg, 2) as b:
        a.reset(1), b.reset(1)
        for action in random_actions(a, 5):
            b.send(action)
            with pytest.raises(RuntimeError, match="send\\(\\) is waiting"):
                b.step(action)
            out_b, ids = b.recv()
            np.testing.assert_array_equal(ids, [0, 1])
            np.testing.assert_array_equal(a.step(action).obs, out_b.obs)
        with pytest.raises(RuntimeError, match="wait forever"):
            b.send(action)
            b.recv()
            b.recv()


def test_errors_are_clear_and_do_not_hang():
    with pytest.raises(ValueError, match="env.type='atari'"):
        AtariEnvManager.build(EasyDict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs"]), 1)
    with pytest.raises(ValueError, match="cannot honour env key\\(s\\) \\['scale'\\]"):
        AtariEnvManager.build(atari_cfg(scale=True), 1)
    with pytest.raises(ValueError, match="env.frame_stack must be an int >= 1"):
        AtariEnvManager.build(atari_cfg(frame_stack=0), 1)
    with pytest.raises(ValueError, match="unknown config key"):
        AtariEnvManager.build(atari_cfg(manager=dict(shared_memory=True)), 1)
    with pytest.raises(ValueError, match="must divide env_num"):
        AtariEnvManager.build(atari_cfg(manager=dict(batch_size=3)), 4)
    # the run's keys (compile_config's common env keys) are accepted
    common = dict(collector_env_num=8, evaluator_env_num=5, n_evaluator_episode=5, stop_value=None, replay_path=None)
    manager = AtariEnvManager.build(atari_cfg(**common, manager=dict(type="atari")), 1)
    with pytest.raises(RuntimeError, match="reset\\(\\) first"):
        manager.step(np.array([0]))
    manager.reset(0)
    with pytest.raises(ValueError, match="actions must lie in \\[0, 6\\)"):
        manager.step(np.array([6]))  # ale-py would raise in a worker thread and never answer
    with pytest.raises(ValueError, match="integer actions"):
        manager.step(np.array([0.0]))
    manager.step(np.array([1]))  # still usable
    manager.close()
    with pytest.raises(RuntimeError, match="closed"):
        manager.reset(0)


def test_atari_keys_are_the_env_types_keys():
    from dizoo.atari.envs.atari_env import AtariEnv

    assert set(AtariEnv.config) == set(ATARI_ENV_KEYS)


def test_compiled_config_builds_collector_and_evaluator_managers():
    from ding.config import compile_config
    from ding.entry.run import build_env_managers

    main = EasyDict(
        env=dict(collector_env_num=2, evaluator_env_num=1, env_id="ALE/Pong-v5", manager=dict(num_threads=1)),
        policy=dict(model=dict(obs_shape=[4, 84, 84], action_shape=6)),
    )
    create = EasyDict(
        env=dict(type="atari", import_names=["dizoo.atari.envs"]),
        env_manager=dict(type="atari"),
        policy=dict(type="dqn"),
    )
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    assert cfg.env.manager == dict(type="atari", num_threads=1, thread_affinity_offset=-1, batch_size=0)
    collector, collector_seeds, evaluator, eval_seeds = build_env_managers(cfg, seed=0)
    with collector, evaluator:
        assert isinstance(collector, AtariEnvManager) and collector.env_num == 2 and evaluator.env_num == 1
        assert collector.settings.episode_life and collector.settings.clip_rewards
        assert not evaluator.settings.episode_life and not evaluator.settings.clip_rewards
        assert collector.reset(collector_seeds).shape == (2, 4, 84, 84)  # uint32 seeds: reduced modulo 2**31


def test_create_env_manager_builds_the_vector_env_from_get_vec_env_setting():
    # DI-engine's loop: create_env_manager(cfg.env.manager, [partial(env_fn, cfg=c) for c in ...]) with the 'atari'
    # manager reads the env config the factories carry and builds ale-py's vector env, as the pipelines do
    from functools import partial

    from ding.envs import create_env_manager, get_vec_env_setting

    cfg = atari_cfg(collector_env_num=4, evaluator_env_num=2, manager=EasyDict(type="atari", batch_size=2))
    cfg.manager.num_threads = 1
    env_fn, collector_cfgs, evaluator_cfgs = get_vec_env_setting(cfg)
    collector = create_env_manager(cfg.manager, [partial(env_fn, cfg=c) for c in collector_cfgs])
    evaluator = create_env_manager(cfg.manager, [partial(env_fn, c) for c in evaluator_cfgs])
    with collector, evaluator:
        assert isinstance(collector, AtariEnvManager) and collector.env_num == 4 and collector.asynchronous
        assert collector.settings.episode_life and collector.settings.clip_rewards
        # evaluators play the real game and step all their envs together
        assert evaluator.env_num == 2 and not evaluator.asynchronous and evaluator.batch_size == 2
        assert not evaluator.settings.episode_life and not evaluator.settings.clip_rewards
    mixed = [partial(env_fn, cfg=collector_cfgs[0]), partial(env_fn, cfg=evaluator_cfgs[0])]
    with pytest.raises(ValueError, match="configs differ"):
        create_env_manager(cfg.manager, mixed)


def test_dingines_env_pool_manager_runs_as_the_native_manager():
    """DI-engine's 'env_pool' (EnvPool, no wheel here) is ale-py's C++ vector env, as 'atari'; its env keys
    collector_batch_size (fewer than the envs: asynchronous) and evaluator_batch_size are taken, and kept in the
    compiled env config (DI-engine's scripts read them)."""
    from ding.config import compile_config
    from ding.config.config import ConfigError
    from ding.envs.env_manager.envpool_env_manager import PoolEnvManager

    main = dict(
        env=dict(collector_env_num=8, collector_batch_size=4, evaluator_env_num=2, evaluator_batch_size=2,
                 n_evaluator_episode=2, env_id="PongNoFrameskip-v4"),
        policy=dict(cuda=False, model=dict(obs_shape=[4, 84, 84], action_shape=6)),
    )  # fmt: skip
    create = dict(
        env=dict(type="atari", import_names=["dizoo.atari.envs.atari_env"]),
        env_manager=dict(type="env_pool"),
        policy=dict(type="dqn"),
    )
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    assert cfg.env.manager.type == "env_pool" and cfg.env.manager.batch_size == 4
    assert cfg.env.collector_batch_size == 4 and cfg.env.evaluator_batch_size == 2
    assert ENV_MANAGER_REGISTRY.get("env_pool") is PoolEnvManager
    with PoolEnvManager.build(cfg.env, 8, is_train=True) as collector:  # the pipelines' way: the 'atari' manager
        assert type(collector) is AtariEnvManager and collector.asynchronous and collector.batch_size == 4
    main["env"]["collector_batch_size"] = 8  # every env at each step: synchronous
    assert compile_config(main, create_cfg=create, save_cfg=False).env.manager.batch_size == 0
    create["env_manager"]["type"] = "subprocess"  # the keys are EnvPool's: another manager refuses them by name
    with pytest.raises(ConfigError, match="collector_batch_size"):
        compile_config(main, create_cfg=create, save_cfg=False)


def test_dingines_pool_env_manager_takes_envpools_keys():
    """DI-engine's PoolEnvManager(cfg), built by its scripts with EnvPool's keys, on ale-py's vector env: EnvPool's
    task id or ding's, episodic_life / reward_clip as given, stack_num, batch_size (fewer: asynchronous); values
    ding's preprocessing has not are refused by name."""
    from ding.envs.env_manager.envpool_env_manager import PoolEnvManager

    keys = dict(env_id="Pong-v5", env_num=2, batch_size=2, episodic_life=False, reward_clip=False, gray_scale=True,
                stack_num=4, frame_skip=4)  # fmt: skip
    manager = PoolEnvManager(keys)
    try:
        manager.launch()  # DI-engine's collector starts the pool: nothing to do
        manager.seed(0)
        assert manager.settings.game_name == "Pong" and not manager.settings.episode_life
        assert not manager.settings.clip_rewards and not manager.asynchronous
        assert manager.reset(0).shape == (2, 4, 84, 84)
    finally:
        manager.close()
    with PoolEnvManager(dict(keys, env_id="BreakoutNoFrameskip-v4", env_num=4, episodic_life=True)) as collector:
        assert collector.settings.game_name == "Breakout" and collector.settings.episode_life
        assert collector.asynchronous and collector.batch_size == 2
    for key, value in (("gray_scale", False), ("frame_skip", 2)):
        with pytest.raises(ValueError, match=f"PoolEnvManager: {key}={value!r} is not supported"):
            PoolEnvManager(dict(keys, **{key: value}))
