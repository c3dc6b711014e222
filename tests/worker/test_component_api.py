"""DI-engine's call forms of the workers (hand-written entry scripts): shapes, seeds, hooks, caps and errors."""

import copy
import os

import numpy as np
import pytest
import torch
from easydict import EasyDict

from ding.config import compile_config
from ding.envs import BaseEnvManager, get_vec_env_setting
from ding.model import DQN, VAC
from ding.policy import DQNPolicy, PPOPolicy
from ding.utils.seed import derive_seeds
from ding.worker import AdvancedReplayBuffer, BaseLearner, InteractionSerialEvaluator, SampleSerialCollector
from ding.worker.transitions import TransitionList
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config as dqn_create
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config as dqn_main
from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config as ppo_create
from dizoo.classic_control.cartpole.config.cartpole_ppo_config import main_config as ppo_main


class Writer:
    """A SummaryWriter's interface (tensorboardX's and torch's alike), recording the scalars."""

    def __init__(self):
        self.scalars = []

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def flush(self):
        pass


def managers(cfg, n_collect=None):
    from functools import partial

    env_fn, collector_cfgs, evaluator_cfgs = get_vec_env_setting(cfg.env)
    collector_env = BaseEnvManager(env_fn=[partial(env_fn, cfg=c) for c in collector_cfgs], cfg=cfg.env.manager)
    evaluator_env = BaseEnvManager(env_fn=[partial(env_fn, cfg=c) for c in evaluator_cfgs], cfg=cfg.env.manager)
    return collector_env, evaluator_env


def dqn_components(tmp, seed=0, learn=None, **policy):
    main = copy.deepcopy(dqn_main)
    main.exp_name = str(tmp / "exp")
    main.policy.update(policy)
    main.policy.learn.update(learn or {})
    cfg = compile_config(main, seed=seed, env=None, auto=True, create_cfg=copy.deepcopy(dqn_create), save_cfg=False)
    collector_env, evaluator_env = managers(cfg)
    collector_env.seed(seed)
    evaluator_env.seed(seed, dynamic_seed=False)
    torch.manual_seed(seed)
    policy = DQNPolicy(cfg.policy, model=DQN(**cfg.policy.model))
    writer = Writer()
    learner = BaseLearner(cfg.policy.learn.learner, policy.learn_mode, writer, exp_name=cfg.exp_name)
    collector = SampleSerialCollector(
        cfg.policy.collect.collector, collector_env, policy.collect_mode, writer, exp_name=cfg.exp_name
    )
    evaluator = InteractionSerialEvaluator(
        cfg.policy.eval.evaluator, evaluator_env, policy.eval_mode, writer, exp_name=cfg.exp_name
    )
    buffer = AdvancedReplayBuffer(cfg.policy.other.replay_buffer, writer, exp_name=cfg.exp_name)
    return cfg, policy, learner, collector, evaluator, buffer, writer


def test_collect_push_sample_train_have_di_engines_shapes(tmp_path):
    cfg, policy, learner, collector, evaluator, buffer, _ = dqn_components(tmp_path)
    data = collector.collect(train_iter=0, policy_kwargs={"eps": 1.0})
    assert isinstance(data, list) and len(data) == 8 == collector.envstep  # n_sample=8 over 8 envs: one row
    assert set(data[0]) >= {"obs", "action", "reward", "next_obs", "done"} and data[0]["obs"].shape == (4,)
    buffer.push(data, cur_collector_envstep=collector.envstep)
    assert buffer.count() == 8
    assert buffer.sample(64, learner.train_iter) is None  # fewer than a batch stored: None, as DI-engine's
    for _ in range(7):
        buffer.push(collector.collect(train_iter=0), cur_collector_envstep=collector.envstep)
    batch = buffer.sample(learner.policy.get_attribute("batch_size"), learner.train_iter)
    assert isinstance(batch, list) and len(batch) == 64 and batch[0]["obs"].shape == (4,)
    learner.train(batch, collector.envstep, policy_kwargs=None)  # DI-engine's keyword, empty
    assert learner.train_iter == 1
    with pytest.raises(ValueError, match="policy_kwargs.*learn forward takes no keyword arguments"):
        learner.train(batch, collector.envstep, policy_kwargs={"beta": 0.4})
    assert learner.train_iter == 1


def test_collector_seeds_are_the_pipelines(tmp_path):
    cfg, policy, learner, collector, *_ = dqn_components(tmp_path, seed=5)
    collector.collect()
    assert collector._seeds == derive_seeds(5, cfg.env.collector_env_num, stream=0)  # serial_pipeline's, seed 5


def test_transition_list_is_lazy_and_a_changed_list_drops_its_arrays():
    arrays = {"obs": np.arange(6.0).reshape(3, 2), "action": np.arange(3)}
    data = TransitionList(arrays, source="rows")
    assert len(data) == 3 and not data._filled and bool(data)
    assert [item["action"] for item in data] == [0, 1, 2] and data[1]["obs"].tolist() == [2.0, 3.0]
    assert data.arrays is arrays and data.source == "rows"
    copied, joined = copy.deepcopy(data), [] + data
    assert type(copied) is list and len(copied) == 3 and copied[2]["action"] == 2 and len(joined) == 3
    data.append({"obs": np.zeros(2), "action": 9})
    assert data.arrays is None and data.source is None and len(data) == 4


def test_push_refuses_a_hand_made_list(tmp_path):
    cfg, *_, buffer, _ = dqn_components(tmp_path)
    with pytest.raises(TypeError, match="the list SampleSerialCollector.collect returned"):
        buffer.push([{"obs": np.zeros(4), "action": 0, "reward": 1.0, "next_obs": np.zeros(4), "done": False}])


def test_prioritised_replay_takes_the_learners_priorities(tmp_path):
    cfg, policy, learner, collector, evaluator, buffer, _ = dqn_components(tmp_path, priority=True)
    for _ in range(8):
        buffer.push(collector.collect(), cur_collector_envstep=collector.envstep)
    batch = buffer.sample(64, 0)
    learner.train(batch, collector.envstep)
    info = learner.priority_info
    assert info["priority"].shape == (64,) and (info["replay_buffer_idx"] == batch.arrays["index"]).all()
    buffer.update(info)
    assert buffer._buffer._max_priority != 1.0  # the new priorities reached the sum tree


def test_learner_logs_checkpoints_and_hooks(tmp_path):
    cfg, policy, learner, collector, evaluator, buffer, writer = dqn_components(tmp_path)
    for _ in range(8):
        buffer.push(collector.collect(), cur_collector_envstep=collector.envstep)
    for _ in range(cfg.policy.learn.learner.hook.log_show_after_iter):
        learner.train(buffer.sample(64, learner.train_iter), collector.envstep)
    assert any(tag == "learner_iter/total_loss" for tag, _, _ in writer.scalars)  # the log hook, to the tb_logger
    with open(os.path.join(cfg.exp_name, "log", "learner.log")) as f:
        assert "[learner] iter=100" in f.read()
    stop, result = evaluator.eval(learner.save_checkpoint, learner.train_iter, collector.envstep)
    ckpt = os.path.join(cfg.exp_name, "ckpt")
    assert os.listdir(ckpt) == ["ckpt_best.pth.tar"]  # the best checkpoint does not move latest
    assert learner.save_checkpoint().endswith("iteration_100.pth.tar")  # DI-engine's default name
    learner.call_hook("after_run")
    assert {"final.pth.tar", "latest.pth.tar"} <= set(os.listdir(ckpt))
    assert result["episode_return_mean"] > 0 and stop is False


def test_evaluator_reads_n_episode_and_stop_value_from_cfg(tmp_path):
    cfg, policy, learner, collector, evaluator, *_ = dqn_components(tmp_path)
    assert evaluator._n_episode == 5 and evaluator._stop_value == 195
    evaluator.eval(None, 0, 0)
    assert evaluator._seeds == derive_seeds(0, cfg.env.evaluator_env_num, stream=1)


def test_step_caps_from_the_environment_stop_the_loop(tmp_path, monkeypatch):
    cfg, policy, learner, collector, evaluator, buffer, _ = dqn_components(tmp_path)
    monkeypatch.setenv("DING_MAX_ENV_STEP", "16")
    evaluator.eval(None, 0, 0)
    assert not evaluator.should_eval(0)
    collector.collect()
    assert not evaluator.should_eval(1)
    collector.collect()  # 16 env steps
    assert evaluator.should_eval(1)
    stop, _ = evaluator.eval(None, 1, collector.envstep)
    assert stop


def test_on_policy_collect_is_a_rollout_the_learner_cuts_into_minibatches(tmp_path):
    main = copy.deepcopy(ppo_main)
    main.exp_name = str(tmp_path / "ppo")
    cfg = compile_config(main, seed=0, create_cfg=copy.deepcopy(ppo_create), save_cfg=False)
    collector_env, _ = managers(cfg)
    collector_env.seed(0)
    policy = PPOPolicy(cfg.policy, model=VAC(**cfg.policy.model))
    learner = BaseLearner(cfg.policy.learn.learner, policy.learn_mode, None, exp_name=cfg.exp_name)
    collector = SampleSerialCollector(
        cfg.policy.collect.collector, collector_env, policy.collect_mode, None, exp_name=cfg.exp_name
    )
    data = collector.collect(train_iter=0)
    n_sample = cfg.policy.collect.n_sample
    assert len(data) == n_sample == collector.envstep and {"obs", "action", "logp", "value", "done"} <= set(data[0])
    learner.train(data, collector.envstep)
    per_collect = cfg.policy.learn.epoch_per_collect * -(-n_sample // cfg.policy.learn.batch_size)
    assert learner.train_iter == per_collect  # one train iteration per minibatch, as serial_pipeline_onpolicy
    with pytest.raises(TypeError, match="rollout"):
        learner.train(list(data), collector.envstep)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c: c["collector"].collect(level_seeds=[1]), "level_seeds"),
        (lambda c: c["buffer"].sample(4, 0, sample_range=slice(0, 2)), "sample_range"),
        (lambda c: BaseLearner(c["cfg"].policy.learn.learner, c["policy"].learn_mode, dist_info=(0, 1)), "dist_info"),
        (lambda c: c["learner"].call_hook("before_iter"), "call_hook"),
        (lambda c: c["policy"].learn_mode.get_attribute("no_such"), "no_such"),
    ],
)
def test_unsupported_di_engine_arguments_are_named(tmp_path, call, message):
    cfg, policy, learner, collector, evaluator, buffer, _ = dqn_components(tmp_path)
    parts = dict(cfg=cfg, policy=policy, learner=learner, collector=collector, buffer=buffer)
    with pytest.raises((ValueError, AttributeError, TypeError), match=message):
        call(parts)


def test_policy_attributes():
    cfg = compile_config(copy.deepcopy(dqn_main), create_cfg=copy.deepcopy(dqn_create), save_cfg=False)
    policy = DQNPolicy(cfg.policy)
    get = policy.collect_mode.get_attribute
    assert (get("n_sample"), get("batch_size"), get("nstep"), get("cuda"), get("device")) == (8, 64, 1, False, "cpu")
    assert EasyDict(policy.eval_mode.__dict__).get_attribute("priority") is False
    assert policy.learn_mode.get_attribute("optimizer") is policy._optimizer  # DI-engine's name, for lr schedulers


def test_evaluator_eval_takes_di_engines_arguments(tmp_path, capsys):
    """DI-engine's eval(save_ckpt_fn, train_iter, envstep, n_episode, force_render, policy_kwargs): n_episode (4th,
    as positional as DI-engine's) sets this evaluation's episode count; policy_kwargs other than empty are refused."""
    cfg, policy, learner, collector, evaluator, buffer, _ = dqn_components(tmp_path)
    capsys.readouterr()
    evaluator.eval(learner.save_checkpoint, 0, 0, 3)
    assert "over 3 episodes" in capsys.readouterr().out
    evaluator.eval(n_episode=2, policy_kwargs={})
    assert "over 2 episodes" in capsys.readouterr().out
    evaluator.eval()
    assert f"over {cfg.env.n_evaluator_episode} episodes" in capsys.readouterr().out
    with pytest.raises(ValueError, match="policy_kwargs.*takes no keyword arguments"):
        evaluator.eval(policy_kwargs={"eps": 0.1})
    with pytest.raises(ValueError, match="n_episode=0"):
        evaluator.eval(n_episode=0)


def filled_buffer(tmp_path, **policy):
    parts = dqn_components(tmp_path, **policy)
    collector, buffer = parts[3], parts[5]
    for _ in range(8):
        buffer.push(collector.collect(policy_kwargs={"eps": 1.0}), cur_collector_envstep=collector.envstep)
    return parts


def test_edits_to_a_sampled_list_are_trained_on(tmp_path):
    """Reward shaping on the sampled dicts is read: a NaN reward reaches the loss; a read but unedited list and a
    slice train as given."""
    from ding.policy.base_policy import NonFiniteError

    cfg, policy, learner, collector, evaluator, buffer, _ = filled_buffer(tmp_path)
    batch = buffer.sample(8, 0)
    assert batch[0]["obs"].shape == (4,) and not batch.edited()  # read, not edited: still its arrays
    for item in batch:
        item["reward"] = item["reward"] * 2.0 + 1.0  # shaped
    assert batch.edited()
    from ding.worker.transitions import stack_transitions

    stacked = stack_transitions(batch)
    assert stacked["reward"].dtype == np.float32
    assert np.allclose(stacked["reward"], batch.arrays["reward"] * 2 + 1)
    learner.train(batch, collector.envstep)
    assert learner.train_iter == 1
    half = buffer.sample(8, 0)[:4]
    learner.train(half, collector.envstep)
    assert learner.priority_info == {} or len(learner.priority_info["replay_buffer_idx"]) == 4
    assert learner.train_iter == 2
    nan = buffer.sample(8, 0)
    for item in nan:
        item["reward"] = float("nan")
    with pytest.raises(NonFiniteError):
        learner.train(nan, collector.envstep)


def test_a_sampled_list_missing_keys_or_hand_made_or_none_is_refused(tmp_path):
    cfg, policy, learner, collector, evaluator, buffer, _ = filled_buffer(tmp_path)
    popped = buffer.sample(4, 0)
    for item in popped:
        item.pop("reward")
    with pytest.raises(TypeError, match=r"replay_buffer.sample's list.*transition 0 lacks \['reward'\]"):
        learner.train(popped, collector.envstep)
    no_done = [dict(obs=np.zeros(4, np.float32), action=0, reward=1.0, next_obs=np.zeros(4))] * 4
    with pytest.raises(TypeError, match=r"replay_buffer.sample's list.*lack \['discount'\] \(or DI-engine's 'done'"):
        learner.train(no_done, 0)
    with pytest.raises(TypeError, match="learner.train got None .replay_buffer.sample returns None"):
        learner.train(None, 0)
    with pytest.raises(TypeError, match="empty list"):
        learner.train([], 0)
    assert learner.train_iter == 0


def test_a_hand_made_list_without_weight_and_with_dones_trains_as_di_engine_reads_it(tmp_path):
    """DI-engine's hand-made transitions hold 'done', not ding's 'discount', and no 'weight': a single-step policy
    trains on them with discount gamma * (1 - done) and weight 1, exactly as on the explicit keys; an n-step
    policy refuses 'done' (it cannot stand for a k-step discount)."""
    rng = np.random.default_rng(0)
    items = [
        dict(
            obs=rng.standard_normal(4).astype(np.float32),
            action=int(rng.integers(2)),
            reward=float(rng.random()),
            next_obs=rng.standard_normal(4).astype(np.float32),
            done=bool(i % 3 == 0),
        )
        for i in range(8)
    ]
    losses = []
    for explicit in (False, True):
        torch.manual_seed(0)
        cfg, policy, learner, *_ = dqn_components(tmp_path / str(explicit))
        gamma = learner.policy.get_attribute("discount_factor")
        data = [
            {**item, "discount": np.float32(0.0 if item["done"] else gamma), "weight": np.float32(1.0)}
            if explicit
            else dict(item)
            for item in items
        ]
        losses.append(learner.train(data, 0))
        assert learner.train_iter == 1
    assert float(losses[0]["total_loss"]) == float(losses[1]["total_loss"])
    mixed = [dict(item) for item in items]
    mixed[0]["weight"] = np.float32(0.25)  # in some dicts only: refused, not silently dropped
    with pytest.raises(TypeError, match=r"1 of its 8 dicts hold 'weight': give it in every dict or in none"):
        learner.train(mixed, 0)
    cfg, policy, learner, *_ = dqn_components(tmp_path / "nstep", nstep=3)
    with pytest.raises(TypeError, match=r"'done' stands for the discount of single-step returns only.*nstep=3"):
        learner.train([dict(item) for item in items], 0)
    assert learner.train_iter == 0


def test_ignore_done_bootstraps_terminations_in_collected_and_hand_made_data(tmp_path):
    """DI-engine's ``learn.ignore_done=True``: the buffer built from the collector's rows bootstraps through
    CartPole's terminations (n-step windows still end there), and a hand-made list's 'done' stands for gamma."""
    learn = {"ignore_done": True}
    cfg, policy, learner, collector, evaluator, buffer, _ = dqn_components(tmp_path, nstep=3, learn=learn)
    gamma = learner.policy.get_attribute("discount_factor")
    assert learner.policy.get_attribute("ignore_done") is True
    data = collector.collect(n_sample=400, train_iter=0, policy_kwargs={"eps": 1.0})
    assert sum(item["terminated"] for item in data) >= 5  # random CartPole play ends often
    buffer.push(data, cur_collector_envstep=collector.envstep)
    sample = buffer.sample(300, 0)
    discount = np.array([item["discount"] for item in sample])
    assert np.isclose(discount[:, None], [gamma, gamma**2, gamma**3], atol=1e-6).any(axis=1).all()  # never 0
    assert (discount > gamma**3 + 1e-6).sum() >= 5  # windows cut short at episode ends bootstrap with gamma^k
    learner.train(sample, collector.envstep)

    rng = np.random.default_rng(0)
    items = [
        dict(obs=rng.standard_normal(4).astype(np.float32), action=i % 2, reward=1.0, done=i % 3 == 0)
        | {"next_obs": rng.standard_normal(4).astype(np.float32)}
        for i in range(8)
    ]
    losses = []
    for explicit in (False, True):
        torch.manual_seed(0)
        *_, learner, _, _, _, _ = dqn_components(tmp_path / f"hand{explicit}", learn=learn)
        data = [{**item, "discount": np.float32(gamma)} if explicit else dict(item) for item in items]
        losses.append(float(learner.train(data, 0)["total_loss"]))
    assert losses[0] == losses[1]


def test_a_buffer_saved_before_its_layout_named_ignore_done_loads_and_takes_new_rows(tmp_path):
    cfg, policy, learner, collector, evaluator, buffer, writer = dqn_components(tmp_path)
    buffer.push(collector.collect(n_sample=16, policy_kwargs={"eps": 1.0}))
    state = buffer.state_dict()
    del state["layout"]["ignore_done"]  # as a checkpoint written before the key existed
    restored = AdvancedReplayBuffer(cfg.policy.other.replay_buffer, writer)
    restored.load_state_dict(state)
    restored.push(collector.collect(n_sample=16, policy_kwargs={"eps": 1.0}))
    assert restored.count() == 32


def test_push_refuses_a_collect_whose_dicts_were_edited(tmp_path):
    cfg, policy, learner, collector, evaluator, buffer, _ = dqn_components(tmp_path)
    data = collector.collect(policy_kwargs={"eps": 1.0})
    data[0]["reward"] = 5.0
    with pytest.raises(TypeError, match="changed by hand.*To shape rewards, edit the dicts of replay_buffer.sample"):
        buffer.push(data, cur_collector_envstep=collector.envstep)
    with pytest.raises(TypeError, match="got None"):
        buffer.push(None)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c: c["buffer"].sample(-1, 0), r"sample\(size=-1\): an int >= 0"),
        (lambda c: c["buffer"].sample(2.5, 0), r"sample\(size=2.5\): an int >= 0"),
        (
            lambda c: c["evaluator"].eval(None, 0, "abc"),
            r"InteractionSerialEvaluator.eval\(envstep='abc'\): an int >= 0",
        ),
        (lambda c: c["evaluator"].eval(None, 0, -5), r"eval\(envstep=-5\): an int >= 0"),
        (lambda c: c["evaluator"].eval(None, -1, 0), r"eval\(train_iter=-1\): an int >= 0"),
        (lambda c: c["collector"].collect(n_sample=0), r"collect\(n_sample=0\): an int >= 1"),
        (lambda c: c["collector"].collect(train_iter="x"), r"collect\(train_iter='x'\): an int >= 0"),
        (lambda c: c["learner"].train(c["buffer"].sample(4, 0), -3), r"BaseLearner.train\(envstep=-3\): an int >= 0"),
    ],
)
def test_worker_counts_are_checked(tmp_path, call, message):
    cfg, policy, learner, collector, evaluator, buffer, _ = filled_buffer(tmp_path)
    parts = dict(buffer=buffer, evaluator=evaluator, collector=collector, learner=learner)
    with pytest.raises(ValueError, match=message):
        call(parts)
    assert buffer.sample(0, 0) == []  # DI-engine's sample(0)
