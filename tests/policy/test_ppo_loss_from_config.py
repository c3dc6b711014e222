"""Every PPO loss setting of a config file reaches the loss: the learn steps on a 32-step rollout, checked against
the loss written out by hand (GAE by its backward recursion, the clipped surrogate, the clipped value loss, the
entropy bonus) with the file's values. Each value is shown to matter on this rollout: the hand-written loss with
the default instead differs by far more than the tolerance, so a policy that reads the default, or a constant,
fails."""

import textwrap

import numpy as np
import pytest
import torch

from ding.config import compile_config, read_config
from ding.utils.registry import POLICY_REGISTRY

STEPS, ENVS, BATCH = 32, 2, 16

# the file's values; none is a default (those are in ALTERNATIVES, the values a policy ignoring the file would use)
SETTINGS = dict(discount_factor=0.9, gae_lambda=0.7, clip_ratio=0.15, value_weight=0.8, entropy_weight=0.05)
ALTERNATIVES = dict(discount_factor=0.99, gae_lambda=0.95, clip_ratio=0.2, value_weight=0.5, entropy_weight=0.0)

CONFIG_FILE = """
from easydict import EasyDict

main_config = EasyDict(dict(
    exp_name="ppo_loss_settings",
    env=dict(collector_env_num={envs}, evaluator_env_num=1, n_evaluator_episode=1, stop_value=195),
    policy=dict(
        action_space="discrete",
        recompute_adv=False,
        model=dict(obs_shape=4, action_shape=2, action_space="discrete"),
        learn=dict(
            epoch_per_collect=1,
            batch_size={batch},
            value_norm=False,
            clip_ratio={clip_ratio},
            value_clip={value_clip},
            value_weight={value_weight},
            entropy_weight={entropy_weight},
            adv_norm={adv_norm},
        ),
        collect=dict(n_sample={n_sample}, discount_factor={discount_factor}, gae_lambda={gae_lambda}),
    ),
))
create_config = EasyDict(dict(
    env=dict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"]),
    env_manager=dict(type="base"),
    policy=dict(type="ppo"),
))
"""


def policy_from_file(tmp_path, settings: dict):
    path = tmp_path / "ppo_config.py"
    path.write_text(textwrap.dedent(CONFIG_FILE).format(envs=ENVS, batch=BATCH, n_sample=STEPS * ENVS, **settings))
    main, create = read_config(str(path))
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    torch.manual_seed(0)
    return POLICY_REGISTRY.build(cfg.policy.type, cfg.policy)


def rollout_for(policy) -> dict[str, np.ndarray]:
    """A rollout of STEPS x ENVS with episode ends of both kinds, whose collected log-probabilities and values are
    the model's own moved by noise: ratios spread over [0.55, 1.8] and old values lie up to 0.5 away, so both clips
    act on some rows and not on others."""
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((STEPS, ENVS, 4)).astype(np.float32)
    action = rng.integers(0, 2, (STEPS, ENVS))
    with torch.no_grad():
        out = policy.model(torch.as_tensor(obs.reshape(-1, 4)), mode="compute_actor_critic")
        logp = torch.log_softmax(out["logit"], -1).gather(1, torch.as_tensor(action.reshape(-1, 1))).squeeze(1)
    logp = logp.numpy().reshape(STEPS, ENVS) + rng.uniform(-0.6, 0.6, (STEPS, ENVS))
    value = out["value"].numpy().reshape(STEPS, ENVS) + rng.uniform(-0.5, 0.5, (STEPS, ENVS))
    terminated = np.zeros((STEPS, ENVS), dtype=bool)
    truncated = np.zeros((STEPS, ENVS), dtype=bool)
    terminated[[9, 25], [0, 1]] = True
    truncated[17, 0] = True
    done_index = np.flatnonzero((terminated | truncated).reshape(-1))
    next_value = np.concatenate([value[1:], rng.standard_normal((1, ENVS))])
    next_value.reshape(-1)[done_index] = rng.standard_normal(len(done_index))  # V(final obs) where an episode ended
    return {
        "obs": obs,
        "action": action,
        "logp": logp.astype(np.float32),
        "value": value.astype(np.float32),
        "next_value": next_value.astype(np.float32),
        "reward": rng.standard_normal((STEPS, ENVS)).astype(np.float32),
        "terminated": terminated,
        "truncated": truncated,
        "last_obs": rng.standard_normal((ENVS, 4)).astype(np.float32),
        "done_index": done_index,
        "done_obs": rng.standard_normal((len(done_index), 4)).astype(np.float32),
    }


def gae_by_hand(rollout, gamma: float, lam: float) -> np.ndarray:
    """A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}, delta_t = r_t + gamma * (1 - term_t) * V'_t - V_t."""
    value, next_value = rollout["value"].astype(np.float64), rollout["next_value"].astype(np.float64)
    terminated, done = rollout["terminated"], rollout["terminated"] | rollout["truncated"]
    advantage, following = np.zeros((STEPS, ENVS)), np.zeros(ENVS)
    for t in reversed(range(STEPS)):
        delta = rollout["reward"][t] + gamma * (1.0 - terminated[t]) * next_value[t] - value[t]
        following = delta + gamma * lam * (1.0 - done[t]) * following
        advantage[t] = following
    return advantage.reshape(-1)


def loss_by_hand(rows, logit, value, rollout, settings) -> dict[str, float]:
    """The PPO loss of a minibatch (flat rollout indices ``rows``) from the model's outputs on it, in float64."""
    advantage = torch.as_tensor(gae_by_hand(rollout, settings["discount_factor"], settings["gae_lambda"]))[rows]
    old_value = torch.as_tensor(rollout["value"].reshape(-1), dtype=torch.float64)[rows]
    target = advantage + old_value
    if settings["adv_norm"]:
        advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    log_p = torch.log_softmax(logit.double(), -1)
    action = torch.as_tensor(rollout["action"].reshape(-1))[rows]
    old_logp = torch.as_tensor(rollout["logp"].reshape(-1), dtype=torch.float64)[rows]
    ratio = (log_p.gather(1, action.view(-1, 1)).squeeze(1) - old_logp).exp()
    eps = settings["clip_ratio"]
    policy_loss = -torch.min(ratio * advantage, ratio.clamp(1 - eps, 1 + eps) * advantage).mean()
    value = value.double()
    error = (value - target).pow(2)
    if settings["value_clip"]:
        error = torch.max(error, (old_value + (value - old_value).clamp(-eps, eps) - target).pow(2))
    value_loss = 0.5 * error.mean()
    entropy = -(log_p.exp() * log_p).sum(-1).mean()
    total = policy_loss + settings["value_weight"] * value_loss - settings["entropy_weight"] * entropy
    return {"total_loss": total.item(), "policy_loss": policy_loss.item(), "value_loss": value_loss.item()}


@pytest.mark.parametrize("adv_norm, value_clip", [(False, True), (True, False)])
def test_each_loss_setting_of_the_config_file_reaches_the_loss(tmp_path, adv_norm, value_clip):
    settings = dict(SETTINGS, adv_norm=adv_norm, value_clip=value_clip)
    policy = policy_from_file(tmp_path, settings)
    rollout = rollout_for(policy)
    row_of = {o.tobytes(): i for i, o in enumerate(rollout["obs"].reshape(-1, 4))}
    alternatives = {**ALTERNATIVES, "adv_norm": not adv_norm, "value_clip": not value_clip}
    changes = {key: 0.0 for key in alternatives}  # the largest change each alternative makes to a minibatch's loss
    clipped_ratio = clipped_value = 0
    minibatches = 0
    for minibatch in policy.learn_mode.minibatches(rollout):
        rows = torch.as_tensor([row_of[o.numpy().tobytes()] for o in minibatch["obs"]])
        with torch.no_grad():  # the model as the step finds it (the earlier minibatches trained it)
            out = policy.model(minibatch["obs"], mode="compute_actor_critic")
        expected = loss_by_hand(rows, out["logit"], out["value"], rollout, settings)
        stats = policy.learn_mode.forward(minibatch)
        for key, value in expected.items():
            assert stats[key].item() == pytest.approx(value, rel=1e-5, abs=1e-6), key
        for key, other in alternatives.items():
            wrong = loss_by_hand(rows, out["logit"], out["value"], rollout, {**settings, key: other})["total_loss"]
            changes[key] = max(changes[key], abs(wrong - expected["total_loss"]) / abs(expected["total_loss"]))
        log_p = torch.log_softmax(out["logit"], -1).gather(1, minibatch["action"].view(-1, 1)).squeeze(1)
        ratio = (log_p - minibatch["logp"]).exp()
        clipped_ratio += int(((ratio - 1).abs() > settings["clip_ratio"]).sum())
        clipped_value += int(((out["value"] - minibatch["value"]).abs() > settings["clip_ratio"]).sum())
        minibatches += 1
    assert minibatches == STEPS * ENVS // BATCH
    assert 0 < clipped_ratio < STEPS * ENVS and 0 < clipped_value < STEPS * ENVS, "both clips must act on some rows"
    # each setting matters here by orders of magnitude more than the 1e-5 the loss is checked to
    assert all(change > 1e-3 for change in changes.values()), changes
