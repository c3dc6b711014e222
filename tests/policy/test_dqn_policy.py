import copy

import numpy as np
import pytest
import torch

from ding.config import ConfigError, compile_config
from ding.utils.registry import POLICY_REGISTRY


def make_policy(cartpole_dqn, **learn):
    main, create = cartpole_dqn
    main.policy.learn.update(learn)
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    torch.manual_seed(0)
    return POLICY_REGISTRY.get("dqn")(cfg.policy), cfg


def fixed_batch(n=32):
    g = torch.Generator().manual_seed(0)
    return {
        "obs": torch.randn(n, 4, generator=g),
        "action": torch.randint(0, 2, (n,), generator=g),
        "reward": torch.ones(n),
        "next_obs": torch.randn(n, 4, generator=g),
        "discount": torch.full((n,), 0.9),
        "weight": torch.ones(n),
        "index": torch.arange(n),
    }


def test_learn_step_lowers_loss_on_a_fixed_batch(cartpole_dqn):
    policy, _ = make_policy(cartpole_dqn, target_update_freq=1000)
    batch = fixed_batch()
    first = policy.learn_mode.forward(batch)["total_loss"].item()
    for _ in range(30):
        last = policy.learn_mode.forward(batch)["total_loss"].item()
    assert last < first


def test_hard_target_update_every_freq_iterations(cartpole_dqn):
    policy, _ = make_policy(cartpole_dqn, target_update_freq=3)
    batch = fixed_batch()
    initial = [p.clone() for p in policy._target_model.parameters()]
    for _ in range(2):
        policy.learn_mode.forward(batch)
    assert all(torch.equal(a, b) for a, b in zip(initial, policy._target_model.parameters(), strict=True))
    policy.learn_mode.forward(batch)
    assert all(
        torch.equal(a, b) for a, b in zip(policy.model.parameters(), policy._target_model.parameters(), strict=True)
    )


def test_soft_target_update_when_freq_zero(cartpole_dqn):
    policy, _ = make_policy(cartpole_dqn, target_update_freq=0, target_theta=0.5)
    before = [p.clone() for p in policy._target_model.parameters()]
    policy.learn_mode.forward(fixed_batch())
    for old, new, online in zip(before, policy._target_model.parameters(), policy.model.parameters(), strict=True):
        assert torch.allclose(new, 0.5 * old + 0.5 * online)


def test_state_dict_round_trip(cartpole_dqn):
    policy, cfg = make_policy(cartpole_dqn)
    for _ in range(3):
        policy.learn_mode.forward(fixed_batch())
    state = policy.learn_mode.state_dict()
    other = POLICY_REGISTRY.get("dqn")(cfg.policy)
    other.learn_mode.load_state_dict(state)
    obs = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    assert np.array_equal(policy.eval_mode.forward(obs), other.eval_mode.forward(obs))
    assert other._learn_iter == 3
    assert other._optimizer.state_dict()["state"].keys() == policy._optimizer.state_dict()["state"].keys()


def test_collect_epsilon_greedy(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.other.eps = dict(type="linear", start=1.0, end=0.0, decay=100)
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy)
    policy.collect_mode.seed(0)
    obs = np.zeros((4000, 4), np.float32)
    greedy = policy.eval_mode.forward(obs)
    assert len(set(greedy.tolist())) == 1
    random_actions = policy.collect_mode.forward(obs, envstep=0)["action"]
    assert 0.45 < (random_actions == 1).mean() < 0.55  # eps 1: uniform over the 2 actions
    assert np.array_equal(policy.collect_mode.forward(obs, envstep=100)["action"], greedy)  # eps 0: greedy
    assert policy.collect_mode.info(50) == {"eps": pytest.approx(0.5)}


def test_priority_and_is_weights(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.priority = True
    main.policy.priority_IS_weight = True
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy)
    batch = fixed_batch(8)
    batch["weight"] = torch.zeros(8)
    stats = policy.learn_mode.forward(batch)
    assert stats["priority"].shape == (8,) and (stats["priority"] > 0).all()
    assert stats["total_loss"].item() == 0.0  # all weights zero: the weights are applied


def test_learn_step_is_double_dqn_with_the_targets_own_weights(cartpole_dqn):
    """The loss of a learn step, recomputed by hand from the two networks: the online net picks the bootstrap action
    at s', the target net values it. The target net gets weights of its own, so the two argmaxes differ on every
    row, and every row bootstraps (discount 0.9): a policy that lets the target net pick, or the online net value,
    or passes its networks the other way round, computes another loss."""
    policy, _ = make_policy(cartpole_dqn, target_update_freq=1000)
    online, target_net = policy.model.head, policy._target_model.head
    with torch.no_grad():
        for param in online.advantage.out.parameters():  # Q values that differ by O(1) between actions
            param.mul_(20.0)
        # the target net: the online advantages times -2 (with 2 actions its argmax is the online argmin), and a
        # value 0.5 higher, so that no wrong way to build the target happens to give the right numbers
        for mine, theirs in zip(target_net.advantage.out.parameters(), online.advantage.out.parameters(), strict=True):
            mine.copy_(-2.0 * theirs)
        for mine, theirs in zip(target_net.value.parameters(), online.value.parameters(), strict=True):
            mine.copy_(theirs)
        target_net.value.out.bias.add_(0.5)
    batch = fixed_batch(64)
    with torch.no_grad():
        q = policy.model(batch["obs"])["logit"].double()
        next_online = policy.model(batch["next_obs"])["logit"].double()
        next_target = policy._target_model(batch["next_obs"])["logit"].double()
    rows, reward, discount = torch.arange(64), batch["reward"].double(), batch["discount"].double()
    picked = next_online.argmax(1)
    assert (picked != next_target.argmax(1)).all(), "the test needs rows where the argmaxes differ"
    q_taken = q[rows, batch["action"]]
    expected = (q_taken - (reward + discount * next_target[rows, picked])).pow(2).mean().item()
    # the wrong targets are far from it: max over the target net, the online net valuing its own pick, and the
    # target net picking for the online net to value
    for wrong_bootstrap in (
        next_target.max(1).values,
        next_online.max(1).values,
        next_online[rows, next_target.argmax(1)],
    ):
        wrong = (q_taken - (reward + discount * wrong_bootstrap)).pow(2).mean().item()
        assert abs(wrong - expected) > 0.1 * expected
    stats = policy.learn_mode.forward(batch)
    assert stats["total_loss"].item() == pytest.approx(expected, rel=1e-5)


def test_evaluation_epsilon(cartpole_dqn):
    """eval.eps 0 (default): greedy and deterministic; eval.eps > 0: each action random with that chance, the rest
    greedy (Atari 100k evaluates at 0.001)."""
    main, create = cartpole_dqn
    obs = np.zeros((20000, 4), np.float32)
    torch.manual_seed(0)
    greedy_policy = POLICY_REGISTRY.get("dqn")(
        compile_config(copy.deepcopy(main), create_cfg=create, save_cfg=False).policy
    )
    greedy = greedy_policy.eval_mode.forward(obs)
    assert len(set(greedy.tolist())) == 1 and np.array_equal(greedy_policy.eval_mode.forward(obs), greedy)
    for eps, low, high in ((1.0, 0.48, 0.52), (0.1, 0.04, 0.06)):  # eps/2 of the actions differ from the greedy
        cfg = copy.deepcopy(main)
        cfg.policy.eval = dict(eps=eps)
        torch.manual_seed(0)
        policy = POLICY_REGISTRY.get("dqn")(compile_config(cfg, create_cfg=create, save_cfg=False).policy)
        actions = policy.eval_mode.forward(obs)
        assert low < (actions != greedy).mean() < high
    cfg = copy.deepcopy(main)
    cfg.policy.eval = dict(eps=1.5)
    with pytest.raises(ConfigError, match="eval.eps"):
        compile_config(cfg, create_cfg=create, save_cfg=False)


def test_evaluation_epsilon_draws_resume_from_the_evaluator_checkpoint(cartpole_dqn):
    """The evaluator's checkpoint holds the eval-epsilon generator: a resumed run (a new policy built from another
    seed) draws the evaluation actions the uninterrupted run draws next; a greedy policy keeps None there."""
    from ding.utils.log_helper import Logger
    from ding.worker import InteractionSerialEvaluator

    main, create = cartpole_dqn
    main.policy.eval = dict(eps=0.5)
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    obs = np.zeros((64, 4), np.float32)

    def evaluator(seed):
        torch.manual_seed(seed)
        policy = POLICY_REGISTRY.get("dqn")(copy.deepcopy(cfg.policy))
        default = InteractionSerialEvaluator.default_config()
        return policy, InteractionSerialEvaluator(default, object(), policy, Logger(None, enabled=False), n_episode=1)

    policy, running = evaluator(0)
    policy.eval_mode.forward(obs)
    saved = copy.deepcopy(running.state_dict())
    expected = [policy.eval_mode.forward(obs) for _ in range(3)]
    resumed_policy, resumed = evaluator(1)
    resumed_policy.eval_mode.load_state_dict(policy.eval_mode.state_dict())
    assert not np.array_equal(resumed_policy.eval_mode.forward(obs), expected[0])  # another seed draws otherwise
    resumed.load_state_dict(saved)
    for actions in expected:
        assert np.array_equal(resumed_policy.eval_mode.forward(obs), actions)
    main.policy.eval = dict(eps=0.0)
    greedy = POLICY_REGISTRY.get("dqn")(compile_config(main, create_cfg=create, save_cfg=False).policy)
    default = InteractionSerialEvaluator.default_config()
    state = InteractionSerialEvaluator(default, object(), greedy, Logger(None, enabled=False), n_episode=1).state_dict()
    assert state["policy_rng"] is None


def test_a_target_copied_every_update_is_not_run_again(cartpole_dqn, monkeypatch):
    """target_update_freq=1 (DrQ(eps)): the target net is the online net of this step, so the learn step takes the
    online forward on s' for both and the weights follow those of a step that runs the target net too; with another
    period, or a model whose training forward draws (dropout), the target net runs."""
    batch = fixed_batch(64)
    shortcut, _ = make_policy(cartpole_dqn, target_update_freq=1)
    full, _ = make_policy(cartpole_dqn, target_update_freq=1)
    assert shortcut._target_is_online
    full._target_is_online = False
    calls = []
    monkeypatch.setattr(shortcut._target_model, "forward", lambda *a, **k: calls.append(1) or None)
    for step in range(5):
        ours, theirs = shortcut.learn_mode.forward(batch), full.learn_mode.forward(batch)
        assert ours["total_loss"].item() == pytest.approx(theirs["total_loss"].item(), rel=1e-6), step
    assert calls == []  # the target net never ran
    for mine, reference in zip(shortcut.model.parameters(), full.model.parameters(), strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-6, atol=1e-7)
    assert not make_policy(cartpole_dqn, target_update_freq=2)[0]._target_is_online
    main, create = copy.deepcopy(cartpole_dqn[0]), copy.deepcopy(cartpole_dqn[1])
    main.policy.model.dropout = 0.1
    main.policy.learn.target_update_freq = 1
    dropout = POLICY_REGISTRY.get("dqn")(compile_config(main, create_cfg=create, save_cfg=False).policy)
    assert not dropout._target_is_online


def test_a_box_action_env_is_refused_naming_the_policies_for_box_actions(cartpole_dqn):
    import gymnasium

    policy, _ = make_policy(cartpole_dqn)
    with pytest.raises(ConfigError) as err:
        policy.check_model(np.zeros((2, 4), dtype=np.float32), gymnasium.spaces.Box(-1, 1, (1,)))
    message = str(err.value)
    assert message.startswith(
        "policy type 'dqn' acts in Discrete action spaces, but the env's action space is Box(-1.0, 1.0, (1,), "
        "float32). Policy types for Box actions: "
    )
    named = message.partition("Policy types for Box actions: ")[2].removesuffix(" (create_config.policy.type)")
    names = set(named.split(", "))  # every registered type for Box actions (other tests may register more)
    assert {"ddpg", "ppo (with policy.action_space='continuous')", "sac", "td3"} <= names
    assert not {"dqn", "c51", "rainbow"} & names
    policy.check_model(np.zeros((2, 4), dtype=np.float32), gymnasium.spaces.Discrete(2))  # the env it fits


@pytest.mark.parametrize("policy_type", ["dqn", "rainbow"])
def test_is_weights_without_priority_warn_once_that_they_do_nothing(cartpole_dqn, policy_type, recwarn):
    main, create = cartpole_dqn
    create.policy.type = policy_type
    main.policy.update(priority=False, priority_IS_weight=True)  # rainbow's default IS weight, priority turned off
    compile_config(copy.deepcopy(main), create_cfg=create, save_cfg=False)
    messages = [str(w.message) for w in recwarn if "priority_IS_weight" in str(w.message)]
    assert messages == [
        "policy.priority_IS_weight=True has no effect without policy.priority=True (the importance-sampling weights "
        "correct prioritised replay's sampling; uniform sampling needs none)"
    ]
    recwarn.clear()
    main.policy.priority = True
    compile_config(main, create_cfg=create, save_cfg=False)
    assert not [w for w in recwarn if "priority_IS_weight" in str(w.message)]


class _Linear(torch.nn.Module):
    """A user's model: ``out(logits)`` is what its forward returns."""

    def __init__(self, out):
        super().__init__()
        self.layer, self.out = torch.nn.Linear(4, 2), out

    def forward(self, x):
        return self.out(self.layer(x))


@pytest.mark.parametrize(
    "out, message",
    [
        (lambda q: q, r"model\(obs\) returned a Tensor; model\(obs\) must return a dict with 'logit' of shape"),
        (lambda q: {"q": q}, r"returned a dict with keys \['q'\], without \['logit'\]"),
        (lambda q: {"logit": q.reshape(-1)}, r"model\(obs\)\['logit'\] for a batch of 2 observations is \(4,\)"),
        (lambda q: {"logit": q.long()}, r"\['logit'\] is torch.int64; it must be a floating-point tensor"),
    ],
)
def test_a_user_models_output_is_checked_against_what_dqn_reads(cartpole_dqn, out, message):
    import gymnasium

    cfg = compile_config(copy.deepcopy(cartpole_dqn[0]), create_cfg=copy.deepcopy(cartpole_dqn[1]), save_cfg=False)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy, model=_Linear(out))
    with pytest.raises(ConfigError, match="the model does not fit policy 'dqn': .*" + message):
        policy.check_model(np.zeros((2, 4), dtype=np.float32), gymnasium.spaces.Discrete(2))


def test_a_model_without_parameters_or_on_the_meta_device_is_refused(cartpole_dqn):
    cfg = compile_config(copy.deepcopy(cartpole_dqn[0]), create_cfg=copy.deepcopy(cartpole_dqn[1]), save_cfg=False)
    dqn = POLICY_REGISTRY.get("dqn")
    with pytest.raises(ConfigError, match=r"no trainable parameters"):
        dqn(cfg.policy, model=torch.nn.Identity())
    dqn(cfg.policy, model=torch.nn.Identity(), enable_field=["eval"])  # nothing to train in eval alone
    with pytest.raises(ConfigError, match=r"tensors on the meta device.*to_empty"):
        dqn(cfg.policy, model=torch.nn.Linear(4, 2, device="meta"))
