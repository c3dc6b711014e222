"""PPOPolicy: config checks, the minibatches of a rollout (GAE targets, shuffles, value normalisation), a step."""

import copy
import math

import numpy as np
import pytest
import torch

from ding.config import ConfigError, compile_config
from ding.utils.registry import POLICY_REGISTRY
from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config, main_config


def ppo_cfg(**learn):
    main = copy.deepcopy(main_config)
    main.policy.learn.update(learn)
    return compile_config(main, create_cfg=copy.deepcopy(create_config), save_cfg=False)


def hand_rollout():
    """T = 2 steps of 1 env; distinct obs identify the transitions after shuffling. Step 0 ends in a termination."""
    return {
        "obs": np.array([[[1.0, 0, 0, 0]], [[2.0, 0, 0, 0]]], dtype=np.float32),
        "action": np.array([[0], [1]]),
        "logp": np.full((2, 1), np.log(0.5), dtype=np.float32),
        "value": np.array([[0.5], [0.25]], dtype=np.float32),
        "next_value": np.array([[4.0], [0.75]], dtype=np.float32),  # 4.0: V(final obs) of the ended episode
        "reward": np.ones((2, 1), dtype=np.float32),
        "terminated": np.array([[True], [False]]),
        "truncated": np.zeros((2, 1), dtype=bool),
        "last_obs": np.zeros((1, 4), dtype=np.float32),
        "done_index": np.array([0]),
        "done_obs": np.zeros((1, 4), dtype=np.float32),
    }


def by_obs(minibatches, key):
    return {float(o[0]): float(v) for mb in minibatches for o, v in zip(mb["obs"], mb[key], strict=True)}


@pytest.mark.parametrize("ignore_done", [False, True])
def test_targets_of_a_hand_rollout(ignore_done):
    cfg = ppo_cfg(epoch_per_collect=1, batch_size=2, value_norm=False, ignore_done=ignore_done)
    cfg.policy.collect.discount_factor, cfg.policy.collect.gae_lambda = 0.5, 1.0
    policy = POLICY_REGISTRY.get("ppo")(cfg.policy)
    minibatches = list(policy.learn_mode.minibatches(hand_rollout()))
    adv = by_obs(minibatches, "adv")
    assert adv[2.0] == pytest.approx(1 + 0.5 * 0.75 - 0.25)
    # terminated: no bootstrap; ignore_done: a cut, bootstrapped from V(final obs) = 4.0
    assert adv[1.0] == pytest.approx(1 + (0.5 * 4.0 if ignore_done else 0.0) - 0.5)
    assert by_obs(minibatches, "return")[1.0] == pytest.approx(adv[1.0] + 0.5)


def test_epochs_of_shuffled_minibatches_cover_the_rollout():
    cfg = ppo_cfg(epoch_per_collect=3, batch_size=3)
    cfg.policy.recompute_adv = False
    policy = POLICY_REGISTRY.get("ppo")(cfg.policy)
    rollout = hand_rollout()
    rollout = {
        k: (np.concatenate([v] * 4) if k not in ("last_obs", "done_index", "done_obs") else v)
        for k, v in rollout.items()
    }
    rollout["obs"][:, 0, 0] = np.arange(8)  # T = 8 distinct transitions
    rollout["terminated"][:] = False
    minibatches = list(policy.learn_mode.minibatches(rollout))
    assert [len(mb["obs"]) for mb in minibatches] == [3, 3, 2] * 3  # ceil(8 / 3) per epoch, the last one smaller
    epochs = [torch.cat([mb["obs"][:, 0] for mb in minibatches[i : i + 3]]) for i in (0, 3, 6)]
    assert all(sorted(e.tolist()) == list(range(8)) for e in epochs)
    assert not all(torch.equal(epochs[0], e) for e in epochs[1:])  # each epoch is a new shuffle
    # without recompute_adv the targets stay those of the first epoch
    assert by_obs(minibatches[:3], "adv") == by_obs(minibatches[6:], "adv")


def test_value_norm_statistics_follow_the_returns():
    cfg = ppo_cfg(epoch_per_collect=1, batch_size=2)  # gamma 0.99, lambda 0.95, value_norm on
    policy = POLICY_REGISTRY.get("ppo")(cfg.policy)
    minibatches = list(policy.learn_mode.minibatches(hand_rollout()))
    # fresh statistics (mean 0, std 1) leave the collected values as they are: GAE returns by hand
    returns = {1.0: 1.0 - 0.5 + 0.5, 2.0: 1 + 0.99 * 0.75 - 0.25 + 0.25}
    stats = policy._value_norm
    assert stats.count == pytest.approx(2, abs=1e-3)
    assert stats.mean == pytest.approx(np.mean(list(returns.values())), abs=1e-3)
    assert stats.var == pytest.approx(np.var(list(returns.values())), abs=1e-3)
    # targets and old values are normalised by the updated statistics
    for obs, target in by_obs(minibatches, "return").items():
        assert target == pytest.approx((returns[obs] - stats.mean) / stats.std, rel=1e-5)
    old = by_obs(minibatches, "value")
    assert old[2.0] == pytest.approx((0.25 - stats.mean) / stats.std, rel=1e-5)


def test_a_learn_step_updates_the_model_and_reports_stats():
    cfg = ppo_cfg(epoch_per_collect=2, batch_size=2)
    policy = POLICY_REGISTRY.get("ppo")(cfg.policy)
    before = [p.detach().clone() for p in policy.model.parameters()]
    stats = [policy.learn_mode.forward(mb) for mb in policy.learn_mode.minibatches(hand_rollout())]
    assert len(stats) == 2
    assert any(not torch.equal(b, p) for b, p in zip(before, policy.model.parameters(), strict=True))
    for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance"):
        assert math.isfinite(stats[-1][key]), key
    state = policy.learn_mode.state_dict()
    assert {"model", "optimizer", "value_norm", "shuffle_rng"} <= set(state)
    fresh = POLICY_REGISTRY.get("ppo")(cfg.policy)
    fresh.learn_mode.load_state_dict(state)
    assert fresh._value_norm.mean == policy._value_norm.mean


def test_collect_and_eval_actions():
    cfg = ppo_cfg()
    policy = POLICY_REGISTRY.get("ppo")(cfg.policy)
    out = policy.collect_mode.forward(np.zeros((3, 4), dtype=np.float32), 0)
    assert out["action"].shape == (3,) and out["action"].dtype == np.int64 and out["logp"].shape == (3,)
    assert policy.eval_mode.forward(np.zeros((3, 4), dtype=np.float32)).shape == (3,)


def test_config_checks():
    def main_with(**policy):
        main = copy.deepcopy(main_config)
        main.policy.update(policy)
        return main

    with pytest.raises(ConfigError, match="disagree"):
        compile_config(main_with(action_space="continuous"), create_cfg=create_config, save_cfg=False)
    with pytest.raises(ConfigError, match="on_policy"):
        compile_config(main_with(on_policy=False), create_cfg=create_config, save_cfg=False)
    with pytest.raises(ConfigError, match="grad_clip_type"):
        compile_config(main_with(learn=dict(grad_clip_type="norm")), create_cfg=create_config, save_cfg=False)
    with pytest.raises(ConfigError, match="no replay buffer"):
        compile_config(main_config, create_cfg={**create_config, "replay_buffer": dict(type="replay")}, save_cfg=False)


def test_compiled_config_has_no_replay_buffer_and_reloads(tmp_path):
    from ding.config import read_config
    from ding.config.config import config_to_source

    cfg = compile_config(copy.deepcopy(main_config), create_cfg=copy.deepcopy(create_config), save_cfg=False)
    assert "replay_buffer" not in cfg.policy.other and cfg.policy.collect.collector.collect_print_freq == 100
    path = tmp_path / "total_config.py"
    path.write_text(config_to_source(cfg))
    assert "ding -m serial_onpolicy" in path.read_text()
    main, create = read_config(str(path))
    again = compile_config(main, create_cfg=create, save_cfg=False)
    assert again == cfg


def test_acting_in_numpy_matches_torch_and_follows_learning():
    cfg = ppo_cfg()
    policy = POLICY_REGISTRY.get("ppo")(cfg.policy)
    obs = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    policy.collect_mode.seed(5)
    out = policy.collect_mode.forward(obs, 0)
    assert policy._numpy_model  # CartPole's MLP VAC on the CPU acts through its numpy mirror
    with torch.no_grad():
        reference = policy.model(torch.from_numpy(obs))
        logp = torch.log_softmax(reference["logit"], -1).gather(1, torch.from_numpy(out["action"])[:, None])[:, 0]
    assert np.allclose(out["value"], reference["value"].numpy(), atol=1e-5)
    assert np.allclose(out["logp"], logp.numpy(), atol=1e-5)
    assert np.array_equal(policy.eval_mode.forward(obs), reference["logit"].argmax(-1).numpy())
    policy.collect_mode.seed(5)  # the same seed, the same actions
    assert np.array_equal(policy.collect_mode.forward(obs, 0)["action"], out["action"])
    with torch.no_grad():  # weights changed in place (as by the optimizer): acting sees them at once
        for parameter in policy.model.parameters():
            parameter.mul_(1.5)
        value = policy.model(torch.from_numpy(obs), mode="compute_critic")["value"].numpy()
    assert np.allclose(policy.collect_mode.value(obs), value, atol=1e-5)


def test_a_model_without_numpy_mirror_acts_in_torch():
    from ding.model import VAC

    class MyVAC(VAC):  # a user's subclass may change forward: never mirrored
        pass

    cfg = ppo_cfg()
    policy = POLICY_REGISTRY.get("ppo")(cfg.policy, model=MyVAC(**cfg.policy.model))
    out = policy.collect_mode.forward(np.zeros((3, 4), dtype=np.float32), 0)
    assert policy._numpy_model is False and out["action"].shape == (3,) and out["logp"].dtype == np.float32


def test_sampling_state_round_trips_and_an_old_torch_state_is_refused_with_a_warning():
    policy = POLICY_REGISTRY.get("ppo")(ppo_cfg().policy)
    obs = np.zeros((8, 4), dtype=np.float32)
    state = policy.collect_mode.rng_state()
    first = policy.collect_mode.forward(obs, 0)["action"]
    policy.collect_mode.set_rng_state(state)
    assert np.array_equal(policy.collect_mode.forward(obs, 0)["action"], first)
    with pytest.warns(UserWarning, match="torch generator"):
        policy.collect_mode.set_rng_state(torch.Generator().get_state())


def test_a_discrete_ppo_on_a_box_env_is_told_the_setting_that_fits():
    import gymnasium

    policy = POLICY_REGISTRY.build("ppo", ppo_cfg().policy)
    with pytest.raises(ConfigError) as err:
        policy.check_model(np.zeros((2, 4), dtype=np.float32), gymnasium.spaces.Box(-1, 1, (1,)))
    assert str(err.value).startswith(
        "policy type 'ppo' with policy.action_space='discrete' acts in Discrete action spaces, but the env's action "
        "space is Box(-1.0, 1.0, (1,), float32). Policy types for Box actions: "
    )
    assert "ppo (with policy.action_space='continuous')" in str(err.value)


class _UserActorCritic(torch.nn.Module):
    """A user's PPO model for CartPole: ``out(logit, value)`` is what ``forward(x, mode)`` returns."""

    def __init__(self, out):
        super().__init__()
        self.actor, self.critic, self.out = torch.nn.Linear(4, 2), torch.nn.Linear(4, 1), out

    def forward(self, x, mode="compute_actor_critic"):
        return self.out(self.actor(x), self.critic(x))


@pytest.mark.parametrize(
    "out, message",
    [
        (lambda logit, value: logit, r"returned a Tensor; .*must return a dict with 'logit' of shape"),
        (
            lambda logit, value: {"logit": logit},
            r"model\(obs, mode='compute_actor_critic'\) returned a dict with keys \['logit'\], without \['value'\]; "
            r".*'logit' of shape \(batch, n_actions\) and 'value' of shape \(batch,\)",
        ),
        (
            lambda logit, value: {"logit": logit, "value": value},
            r"\['value'\] for a batch of 2 observations is \(2, 1\)",
        ),
    ],
)
def test_a_user_models_output_is_checked_against_what_ppo_reads(out, message):
    import gymnasium

    policy = POLICY_REGISTRY.get("ppo")(ppo_cfg().policy, model=_UserActorCritic(out))
    with pytest.raises(ConfigError, match="the model does not fit policy 'ppo': .*" + message):
        policy.check_model(np.zeros((2, 4), dtype=np.float32), gymnasium.spaces.Discrete(2))
    fitting = _UserActorCritic(lambda logit, value: {"logit": logit, "value": value[:, 0]})
    POLICY_REGISTRY.get("ppo")(ppo_cfg().policy, model=fitting).check_model(
        np.zeros((2, 4), dtype=np.float32), gymnasium.spaces.Discrete(2)
    )


def test_a_continuous_ppo_model_must_give_sigma():
    import gymnasium

    from dizoo.classic_control.pendulum.config.pendulum_ppo_config import create_config, main_config

    cfg = compile_config(copy.deepcopy(main_config), create_cfg=copy.deepcopy(create_config), save_cfg=False)
    model = _UserActorCritic(lambda mu, value: {"mu": mu[:, :1], "value": value[:, 0]})
    model.actor, model.critic = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    policy = POLICY_REGISTRY.get("ppo")(cfg.policy, model=model)
    with pytest.raises(ConfigError, match=r"without \['sigma'\]; .*'mu' of shape \(batch, \*action_shape\)"):
        policy.check_model(np.zeros((2, 3), dtype=np.float32), gymnasium.spaces.Box(-2, 2, (1,)))
