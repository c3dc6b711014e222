"""The Atari 100k configs (dizoo/atari/config/atari100k/): the protocol's env and evaluator settings, each algorithm's
published settings, the epsilon schedules, and the protocol's env sides (a life loss ends an episode in training
only; the 27,000-step cap)."""

import copy
import importlib

import numpy as np
import pytest

pytest.importorskip("ale_py")

from ding.config import compile_config  # noqa: E402
from ding.envs.env_manager.atari_env_manager import FRAMESKIP, AtariEnvManager  # noqa: E402
from ding.utils.registry import POLICY_REGISTRY  # noqa: E402
from dizoo.atari.config.atari100k.atari100k import ALGO_KEYS, GAMES, atari100k_config  # noqa: E402

FILES = [(game, algo) for game in GAMES for algo in ALGO_KEYS]


def compiled(game: str, algo: str):
    module = importlib.import_module(f"dizoo.atari.config.atari100k.{game.lower()}_{algo}_config")
    return compile_config(
        copy.deepcopy(module.main_config), create_cfg=copy.deepcopy(module.create_config), save_cfg=False
    )


@pytest.mark.parametrize("game, algo", FILES)
def test_every_file_holds_the_protocol(game, algo):
    cfg = compiled(game, algo)
    env = cfg.env
    assert cfg.max_env_step == 100_000 and env.stop_value is None  # 100k agent steps, never stopped early
    assert env.env_id == f"{game}NoFrameskip-v4" and cfg.policy.model.action_shape == GAMES[game]
    assert env.repeat_action_probability == 0.0 and env.noop_max == 30 and env.episode_life and env.clip_rewards
    assert env.max_episode_frames // FRAMESKIP == 27_000  # agent steps per episode
    assert env.n_evaluator_episode == 100 and cfg.policy.eval.eps == 0.001
    evaluator = cfg.policy.eval.evaluator
    assert not evaluator.eval_at_start and evaluator.eval_freq > 100_000  # one evaluation: after training
    # one env, one update per agent step, after 1,600 random steps
    assert env.collector_env_num == 1 and cfg.policy.collect.n_sample == 1 and cfg.policy.learn.update_per_collect == 1
    assert cfg.policy.random_collect_size == 1600 and cfg.policy.learn.batch_size == 32
    assert cfg.policy.learn.learning_rate == 1e-4 and cfg.policy.learn.adam_eps == 1.5e-4
    assert cfg.policy.other.replay_buffer.replay_buffer_size == 100_000
    assert cfg.exp_name == f"{game.lower()}_{algo}_seed0"


def test_drq_eps_settings():
    policy = compiled("Pong", "drq_eps").policy
    assert policy.type == "dqn" and policy.model.dueling and policy.nstep == 10 and policy.discount_factor == 0.99
    assert policy.learn.target_update_freq == 1 and policy.learn.random_shift_pad == 4 and not policy.priority
    assert policy.model.encoder_hidden_size_list == [32, 64, 64, 512] and policy.learn.huber_kappa == 1.0


def test_der_settings():
    policy = compiled("Pong", "der").policy
    assert policy.type == "rainbow" and policy.model.dueling and policy.model.noise and policy.nstep == 20
    assert policy.model.noise_sigma0 == 0.1 and policy.model.n_atom == 51
    assert (policy.model.encoder_kernel_size, policy.model.encoder_stride) == ([5, 5], [5, 5])
    assert policy.model.encoder_hidden_size_list == [32, 64] and not policy.model.encoder_linear
    assert policy.model.head_hidden_size == 256 and policy.model.head_layer_num == 1
    assert policy.learn.target_update_freq == 2000
    assert policy.priority and policy.priority_IS_weight and policy.learn.random_shift_pad == 0
    assert policy.other.replay_buffer.alpha == 0.5 and policy.other.replay_buffer.beta == 0.4


def test_der_network_is_the_papers():
    """DER's network (van Hasselt et al. 2019 on Rainbow's): conv 32 5x5/5, conv 64 5x5/5, the 576 flattened
    features into each dueling stream's noisy 256 layer, then a noisy layer to the atoms; nothing shared after the
    convolutions."""
    cfg = compiled("Boxing", "der")
    cfg.policy.cuda = False
    model = POLICY_REGISTRY.get(cfg.policy.type)(cfg.policy, enable_field=["learn"])._model
    linears = [(name, type(m).__name__, m.in_features, m.out_features) for name, m in model.named_modules()
               if hasattr(m, "in_features")]  # fmt: skip
    assert linears == [
        ("head.advantage.0", "NoisyLinear", 576, 256),
        ("head.advantage.2", "NoisyLinear", 256, 18 * 51),
        ("head.value.0", "NoisyLinear", 576, 256),
        ("head.value.2", "NoisyLinear", 256, 51),
    ]
    noisy = [m for m in model.modules() if type(m).__name__ == "NoisyLinear"]
    assert all(float(m.weight_sigma[0, 0]) == pytest.approx(0.1 / m.in_features**0.5) for m in noisy)  # sigma0 0.1


def training_eps(algo: str, steps) -> list:
    cfg = compiled("Breakout", algo)
    cfg.policy.cuda = False
    policy = POLICY_REGISTRY.get(cfg.policy.type)(cfg.policy, enable_field=["collect"])
    return [policy.collect_mode.info(step)["eps"] for step in steps]


def test_drq_eps_training_epsilon_decays_to_001_after_the_random_phase():
    eps = training_eps("drq_eps", (0, 1600, 1600 + 2500, 1600 + 5000, 100_000))
    assert eps == pytest.approx([1.0, 1.0, 0.505, 0.01, 0.01])


def test_der_training_epsilon_is_001_throughout():
    """Dopamine's full Rainbow agent with noisy layers acts at epsilon_train (0.01) from the start (identity_epsilon);
    the first 1600 steps are uniformly random through random_collect_size."""
    assert training_eps("der", (0, 1600, 2600, 3600, 100_000)) == pytest.approx([0.01] * 5)
    assert compiled("Breakout", "der").policy.random_collect_size == 1600


def test_factory_refuses_unknown_games_and_algorithms():
    with pytest.raises(ValueError, match="game 'Pitfall'"):
        atari100k_config("Pitfall", "der")
    with pytest.raises(ValueError, match="algo 'spr'"):
        atari100k_config("Pong", "spr")
    assert atari100k_config("Pong", "der")[0] is not atari100k_config("Pong", "der")[0]


def test_life_loss_ends_episodes_in_training_only():
    """The protocol's collector and evaluator envs, same seed and actions: the training side ends an episode (NaN
    return: no game ended) at the first life loss, the evaluation side plays on."""
    cfg = compiled("Breakout", "drq_eps")
    with (
        AtariEnvManager.build(cfg.env, 1, is_train=True) as train,
        AtariEnvManager.build(cfg.env, 1, is_train=False) as evaluation,
    ):
        assert train.settings.episode_life and not evaluation.settings.episode_life
        assert train.settings.max_episode_frames == evaluation.settings.max_episode_frames == 108_000
        train.reset(3), evaluation.reset(3)
        rng = np.random.default_rng(0)
        for _ in range(2000):
            action = rng.integers(0, 4, 1)
            tr, ev = train.step(action), evaluation.step(action)
            if tr.terminated[0]:
                break
        assert tr.terminated[0] and np.isnan(tr.episode_return[0])  # a life lost: the training episode ends
        assert not (ev.terminated[0] or ev.truncated[0])  # the same moment in evaluation: the game goes on


def test_step_cap_truncates_at_the_cap_in_agent_steps():
    """max_episode_frames / 4 agent steps, then truncated (not terminated): the protocol's 108,000 frames are
    27,000 agent steps; here 30 agent steps, on the protocol's training side."""
    cfg = compiled("Boxing", "der")
    env_cfg = dict(cfg.env, max_episode_frames=30 * FRAMESKIP)
    with AtariEnvManager.build(env_cfg, 1, is_train=True) as train:
        train.reset(0)
        ends = [train.step(np.zeros(1, dtype=np.int64)) for _ in range(31)]
        assert not any(o.truncated[0] or o.terminated[0] for o in ends[:29])
        assert ends[29].truncated[0] and not ends[29].terminated[0] and ends[29].episode_length[0] == 30
