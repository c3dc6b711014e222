"""Overlapped collection on an asynchronous env manager: the buffer gets, row by row and env by env, the transitions
a synchronous run with the same actions gives; the row assembler keeps each env's stream in order."""

import copy
import json
import os

import numpy as np
import pytest
import torch
from easydict import EasyDict

from ding.utils.log_helper import Logger
from ding.worker import SampleSerialCollector
from ding.worker.collector.row_assembler import RowAssembler, TransitionRow

os.environ.setdefault("OMP_NUM_THREADS", "1")


def test_row_assembler_hands_out_whole_rows_in_each_envs_order():
    # 3 envs; batches of 2 envs in an irregular order, env 2 running up to 6 transitions ahead (the ring grows)
    assembler = RowAssembler(3, depth=2)
    order = [[0, 2], [1, 2], [2, 0], [2, 1], [2, 0], [2, 1], [2, 0], [0, 1], [0, 1], [0, 1], [1, 0], [2, 1]]
    count = np.zeros(3, dtype=int)  # transitions begun per env; transition k of env e holds obs = 100 * e + k
    taken = []
    for batch in order:
        ids = np.array(batch)
        opened = assembler.open[ids]
        if opened.any():
            done = ids[opened]
            k = count[done] - 1
            assembler.complete(
                done,
                (100 * done + k).astype(np.float32),
                np.stack([np.full((2, 2), 100 * e + j + 1, np.uint8) for e, j in zip(done, k, strict=True)]),
                k % 3 == 2,
                np.zeros(len(done), bool),
                np.where(k % 3 == 2, 1.0, np.nan),
                np.zeros(len(done), np.int64),
            )
        obs = np.stack([np.full((2, 2), 100 * e + count[e], np.uint8) for e in ids])
        assembler.begin(ids, obs, 10 * ids + count[ids])
        count[ids] += 1
        while assembler.ready():
            taken.append([np.array(field, copy=True) for field in assembler.take()])  # views of the ring
    assert assembler.ready() == 0 and len(taken) == min(count) - 1
    assert assembler._depth == 8  # env 2 ran 6 transitions ahead: the ring grew twice, keeping every stream
    for t, fields in enumerate(taken):
        row = TransitionRow(*fields)
        envs = np.arange(3)
        np.testing.assert_array_equal(row.obs[:, 0, 0], 100 * envs + t)
        np.testing.assert_array_equal(row.next_obs[:, 0, 0], 100 * envs + t + 1)
        np.testing.assert_array_equal(row.action, 10 * envs + t)
        np.testing.assert_array_equal(row.reward, 100 * envs + t)
        assert (row.terminated == (t % 3 == 2)).all() and np.isnan(row.episode_return).all() == (t % 3 != 2)


class RecordingBuffer:
    """Keeps copies of every row added."""

    def __init__(self):
        self.rows = []

    def add(self, *fields):
        self.rows.append(tuple(np.array(f, copy=True) for f in fields))


class ObsPolicy:
    """Actions that depend on each env's obs alone (so on no batching): a hash of the newest frame."""

    def __init__(self, n_actions: int):
        def forward(obs, envstep):
            return {"action": (obs[:, -1].astype(np.int64).sum(axis=(1, 2)) // 7) % n_actions}

        self.collect_mode = EasyDict(forward=forward, info=lambda step: {}, rng_state=lambda: None)


def atari_manager(env_num: int, batch_size: int):
    from ding.envs.env_manager.atari_env_manager import AtariEnvManager

    # Breakout: life losses (episodic life in training) and, at 200 frames, time-limit cuts within 50 steps
    cfg = EasyDict(
        type="atari",
        import_names=["dizoo.atari.envs"],
        env_id="BreakoutNoFrameskip-v4",
        max_episode_frames=200,
        manager=dict(batch_size=batch_size, num_threads=2),
    )
    return AtariEnvManager.build(cfg, env_num, is_train=True)


def collect_rows(batch_size: int, collects: list[int], seeds: list[int], policy=None, buffer=None):
    buffer = RecordingBuffer() if buffer is None else buffer
    with atari_manager(len(seeds), batch_size) as env:
        collector = SampleSerialCollector(
            SampleSerialCollector.default_config(),
            env,
            policy or ObsPolicy(env.action_space.n),
            Logger(None, enabled=False),
            buffer=buffer,
            seeds=seeds,
        )
        got = [collector.collect(n) for n in collects]
        return collector, buffer, got


@pytest.fixture(scope="module")
def sync_and_overlapped():
    pytest.importorskip("ale_py")
    seeds, collects = [3, 5, 7, 9], [10, 160, 1, 90]  # rows: 3 + 40 + 1 + 23
    sync = collect_rows(4, collects, seeds)
    overlapped = collect_rows(2, collects, seeds)
    return sync, overlapped


def test_overlapped_collect_equals_sync_env_by_env(sync_and_overlapped):
    (sync, sync_buffer, sync_got), (over, over_buffer, over_got) = sync_and_overlapped
    assert over.overlapped and not sync.overlapped
    assert over_got == sync_got == [12, 160, 4, 92]  # n_sample rounded up to whole rows of 4 envs
    assert len(over_buffer.rows) == len(sync_buffer.rows) == 67
    names = ("obs", "action", "reward", "next_obs", "terminated", "truncated")
    for t, (a, b) in enumerate(zip(sync_buffer.rows, over_buffer.rows, strict=True)):
        for name, x, y in zip(names, a, b, strict=True):
            np.testing.assert_array_equal(x, y, err_msg=f"row {t} {name}")
    # the rows went through life losses and time-limit cuts, and episodes started over
    terminated = np.stack([row[4] for row in sync_buffer.rows])
    truncated = np.stack([row[5] for row in sync_buffer.rows])
    assert terminated.any() and truncated.any()
    assert over.envstep == sync.envstep == 268
    # games cut by the frame cap are episodes; training episodes ended by a lost life are not (no game ended)
    assert over.episode_count == sync.episode_count == truncated.sum() > 0
    assert over._log.returns == sync._log.returns and over._log.lengths == sync._log.lengths


def test_overlapped_streams_are_continuous_within_episodes(sync_and_overlapped):
    _, (_, buffer, _) = sync_and_overlapped
    obs = np.stack([row[0] for row in buffer.rows])
    next_obs = np.stack([row[3] for row in buffer.rows])
    done = np.stack([row[4] | row[5] for row in buffer.rows])
    going = ~done[:-1]  # (T-1, E): the next row continues the episode
    assert going.sum() > 50
    np.testing.assert_array_equal(obs[1:][going], next_obs[:-1][going])
    # a new episode (or training episode after a lost life) starts from a stack padded with zeros
    assert (obs[1:][~going][:, 0] == 0).all()


def test_dingine_call_form_collects_overlapped_as_sync(tmp_path):
    # DI-engine's loop (collect returns the transition list) on the 'atari' manager of create_env_manager: the
    # overlapped collector hands out the transitions of a synchronous run with the same actions
    from functools import partial

    from ding.envs import create_env_manager, get_vec_env_setting

    pytest.importorskip("ale_py")
    results = []
    for batch_size in (0, 2):
        cfg = EasyDict(
            type="atari",
            import_names=["dizoo.atari.envs"],
            env_id="BreakoutNoFrameskip-v4",
            max_episode_frames=100,  # time-limit cuts after 25 steps
            collector_env_num=4,
            evaluator_env_num=1,
            manager=dict(type="atari", batch_size=batch_size, num_threads=2),
        )
        env_fn, collector_cfgs, _ = get_vec_env_setting(cfg)
        env = create_env_manager(cfg.manager, [partial(env_fn, cfg=c) for c in collector_cfgs])
        env.seed(3)
        policy = ObsPolicy(env.action_space.n).collect_mode
        layout = dict(nstep=1, discount_factor=0.99, priority=False)
        policy.update(value=None, seed=lambda seed: None, get_attribute=layout.get)
        with env:
            exp_name = str(tmp_path / f"batch{batch_size}")
            collector = SampleSerialCollector(SampleSerialCollector.default_config(), env, policy, None, exp_name)
            assert collector.overlapped == (batch_size == 2)
            results.append([collector.collect(n) for n in (10, 100)])
    for sync, overlapped in zip(*results, strict=True):
        assert len(sync) == len(overlapped) > 0
        for key in ("obs", "action", "reward", "next_obs", "terminated", "truncated", "done"):
            np.testing.assert_array_equal(sync.arrays[key], overlapped.arrays[key], err_msg=key)
    assert np.concatenate([data.arrays["truncated"] for data in results[0]]).any()


def test_overlapped_dqn_collect_into_frame_stack_buffer():
    pytest.importorskip("ale_py")
    from ding.config import compile_config
    from ding.data import FrameStackReplayBuffer
    from ding.utils.registry import POLICY_REGISTRY

    torch.set_num_threads(1)
    main = EasyDict(
        env=dict(collector_env_num=4, evaluator_env_num=1, env_id="BreakoutNoFrameskip-v4"),
        policy=dict(
            model=dict(obs_shape=[4, 84, 84], action_shape=4),
            nstep=3,
            other=dict(eps=dict(type="linear", start=0.5, end=0.5, decay=1)),
        ),
    )
    create = EasyDict(
        env=dict(type="atari", import_names=["dizoo.atari.envs"]),
        env_manager=dict(type="atari"),
        policy=dict(type="dqn"),
    )
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy)
    policy.collect_mode.seed(0)
    buffer = FrameStackReplayBuffer(400, 4, (4, 84, 84), np.uint8, nstep=3, discount_factor=0.99, seed=0)
    collector, _, got = collect_rows(2, [50, 50], [0, 1, 2, 3], policy=policy, buffer=buffer)
    assert got == [52, 52] and len(buffer) == 104 and collector.envstep == 104
    batch = buffer.sample(32)
    assert batch["obs"].shape == (32, 4, 84, 84) and batch["obs"].dtype == np.uint8


def test_dqn_collect_runs_the_model_on_greedy_rows_only(cartpole_dqn):
    # same draws as computing every row's greedy action and overwriting the explored ones
    from ding.config import compile_config
    from ding.utils.registry import POLICY_REGISTRY

    main, create = cartpole_dqn
    main.policy.other.eps = dict(type="linear", start=0.5, end=0.5, decay=1)
    policy = POLICY_REGISTRY.get("dqn")(compile_config(main, create_cfg=create, save_cfg=False).policy)
    obs = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    with torch.inference_mode():
        greedy = policy.model(torch.from_numpy(obs))["logit"].argmax(-1).numpy()
    rows = []
    policy.model.forward = lambda x, forward=policy.model.forward: rows.append(len(x)) or forward(x)
    for round_ in range(5):
        policy.collect_mode.seed(round_)
        action = policy.collect_mode.forward(obs, envstep=0)["action"]
        rng = np.random.default_rng(round_)
        explore = rng.random(64) < 0.5
        expected = greedy.copy()
        expected[explore] = rng.integers(0, 2, size=int(explore.sum()))
        np.testing.assert_array_equal(action, expected)
        assert rows[-1] == 64 - explore.sum()


def test_pipeline_collects_overlapped_and_evaluates_synchronously(in_tmp, capsys):
    pytest.importorskip("ale_py")
    from ding.entry import serial_pipeline
    from ding.entry.run import build_env_managers
    from dizoo.atari.config.serial.pong.pong_dqn_config import create_config, main_config

    main = copy.deepcopy(main_config)
    main.exp_name = "pong_overlapped"
    main.policy.cuda = False
    main.env.update(collector_env_num=4, evaluator_env_num=2, n_evaluator_episode=2, max_episode_frames=400)
    main.env.manager = dict(batch_size=2, num_threads=1)
    main.policy.model.encoder_hidden_size_list = [8, 8, 8, 32]
    main.policy.collect.n_sample = 32
    main.policy.learn.update_per_collect = 1
    main.policy.learn.batch_size = 8
    main.policy.eval.evaluator.eval_freq = 10**6
    main.policy.other.replay_buffer.replay_buffer_size = 1000
    from ding.config import compile_config

    cfg = compile_config(copy.deepcopy(main), create_cfg=copy.deepcopy(create_config), save_cfg=False)
    collector_env, _, evaluator_env, _ = build_env_managers(cfg, seed=0)
    with collector_env, evaluator_env:
        assert collector_env.asynchronous and not evaluator_env.asynchronous
    serial_pipeline((main, copy.deepcopy(create_config)), seed=0, max_env_step=256)
    out = capsys.readouterr().out
    assert "max_env_step=256 reached" in out and "[evaluator]" in out
    summary = json.load(open(os.path.join("pong_overlapped", "summary.json")))
    assert summary["env_steps"] == 256 and summary["train_iterations"] == 8
