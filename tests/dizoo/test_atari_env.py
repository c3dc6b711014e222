"""AtariEnv (the gymnasium path: ale-py env + DeepMind wrappers): config, spaces, stack conventions, episodic life and
the returns in info, and equality with the native manager (same seeds and actions -> same steps, pixel for pixel)."""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys

import gymnasium
import numpy as np
import pytest
from easydict import EasyDict

pytest.importorskip("ale_py")

from ding.envs import BaseEnvManager, EnvStep, SubprocessEnvManager, make_env  # noqa: E402
from ding.envs.env_manager.atari_env_manager import AtariEnvManager  # noqa: E402
from ding.utils.registry import ENV_REGISTRY  # noqa: E402
from dizoo.atari.envs import AtariEnv  # noqa: E402
from dizoo.atari.envs.wrappers import _Mt19937Below, resize_area, wrap_deepmind  # noqa: E402
from tests.conftest import REPO_ROOT  # noqa: E402


def atari_cfg(env_id: str = "PongNoFrameskip-v4", **values) -> EasyDict:
    return EasyDict(type="atari", import_names=["dizoo.atari.envs"], env_id=env_id, **values)


def wrapper_names(env: gymnasium.Env) -> list[str]:
    names = []
    while isinstance(env, gymnasium.Wrapper):
        names.append(type(env).__name__)
        env = env.env
    return names


def test_registered_with_defaults():
    assert ENV_REGISTRY.get("atari") is AtariEnv
    cfg = AtariEnv.default_config()
    assert cfg == dict(
        env_id="PongNoFrameskip-v4",
        frame_stack=4,
        episode_life=True,
        clip_rewards=True,
        noop_max=30,
        fire_reset=True,
        repeat_action_probability=0.0,
        max_episode_frames=108_000,
        stack_reset_on_life_loss=False,
    )
    cfg.frame_stack = 2
    assert AtariEnv.config["frame_stack"] == 4  # a deep copy


def test_env_ids_spaces_and_wrappers_per_side():
    train = make_env(atari_cfg("ALE/SpaceInvaders-v5", is_train=True))
    evaluation = make_env(atari_cfg("SpaceInvadersNoFrameskip-v4", is_train=False, frame_stack=2))
    assert isinstance(train, AtariEnv) and train.settings.game == evaluation.settings.game == "space_invaders"
    assert train.observation_space == gymnasium.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert evaluation.observation_space.shape == (2, 84, 84)
    assert train.action_space == evaluation.action_space == gymnasium.spaces.Discrete(6)
    assert wrapper_names(train)[1:] == [
        "FrameStackWrapper",
        "ClipRewardWrapper",
        "WarpFrameWrapper",
        "GameStatsWrapper",
        "EpisodicLifeWrapper",
        "MaxAndSkipWrapper",
        "NoopResetWrapper",
        "FireResetWrapper",
        "OrderEnforcing",
    ]
    assert "EpisodicLifeWrapper" not in wrapper_names(evaluation) and "ClipRewardWrapper" not in wrapper_names(
        evaluation
    )
    assert train.unwrapped.ale.getFloat("repeat_action_probability") == 0.0  # not v5's 0.25
    with pytest.raises(ValueError, match="NoFrameskip-v4"):
        AtariEnv(atari_cfg("SpaceInvaders"))
    with pytest.raises(ValueError, match="env.noop_max must be an int >= 0"):
        AtariEnv(atari_cfg(noop_max=-1))


def test_dingine_collector_and_evaluator_env_cfgs():
    # DI-engine's atari_dqn_main.py: [partial(AtariEnv, cfg=c) for c in AtariEnv.create_collector_env_cfg(cfg.env)]
    cfg = EasyDict(env_id="PongNoFrameskip-v4", frame_stack=4, collector_env_num=3, evaluator_env_num=2)
    collector, evaluator = AtariEnv.create_collector_env_cfg(cfg), AtariEnv.create_evaluator_env_cfg(cfg)
    assert [c.is_train for c in collector] == [True] * 3 and [c.is_train for c in evaluator] == [False] * 2
    assert collector[0] is not collector[1] and collector[0].env_id == "PongNoFrameskip-v4"
    assert "is_train" not in cfg and cfg.collector_env_num == 3  # DI-engine pops the count; left as it is here
    assert AtariEnv(evaluator[0]).settings.episode_life is False


def test_stack_zero_padded_at_reset_and_shifted_each_step():
    env = AtariEnv(atari_cfg("BreakoutNoFrameskip-v4", is_train=False))
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.uint8 and (obs[:3] == 0).all() and obs[3].any()
    for action in np.random.default_rng(0).integers(0, 4, 30):
        new, reward, terminated, truncated, info = env.step(action)
        assert not (terminated or truncated)
        np.testing.assert_array_equal(new[:3], obs[1:])
        obs = new


def test_life_loss_ends_training_episode_game_goes_on_and_info_reports_whole_game():
    train, evaluation = (AtariEnv(atari_cfg("BreakoutNoFrameskip-v4", is_train=side)) for side in (True, False))
    train.reset(seed=3)
    evaluation.reset(seed=3)
    game_return, game_length, life_loss_ends = 0.0, 0, 0
    for action in np.random.default_rng(1).integers(0, 4, 3000):
        obs, reward, terminated, truncated, info = train.step(action)
        ev_obs, ev_reward, ev_terminated, ev_truncated, ev_info = evaluation.step(action)
        assert reward == np.sign(ev_reward) and info["lives"] == ev_info["lives"]  # one game, two views
        game_return += ev_reward
        game_length += 1
        if ev_terminated or ev_truncated:
            assert terminated and ev_info["episode_return"] == info["episode_return"] == game_return
            assert ev_info["episode_length"] == info["episode_length"] == game_length
            break
        if terminated:  # a life lost: the game goes on from the same frame, with a fresh stack
            assert math.isnan(info["episode_return"]) and info["episode_length"] == 0 and not info["game_over"]
            life_loss_ends += 1
            frame = info["episode_frame_number"]
            obs, info = train.reset()
            assert info["life_continues"] and info["episode_frame_number"] == frame
            assert (obs[:3] == 0).all()
            np.testing.assert_array_equal(obs[3], ev_obs[3])
    else:
        raise AssertionError("no game over in 3000 steps")
    assert life_loss_ends == 4  # Breakout: 5 lives


def test_native_manager_and_gymnasium_path_give_the_same_steps():
    """Same seeds and actions: equal obs, rewards, ends, final obs and returns, over life losses, game overs and the
    frame cap (episode_length differs by design under BaseEnvManager: it counts training episodes)."""
    cfg, seeds = atari_cfg("BreakoutNoFrameskip-v4", max_episode_frames=701), [7, 2**32 - 5]
    native, gym = AtariEnvManager.build(cfg, 2), BaseEnvManager.build(cfg, 2)
    with native, gym:
        np.testing.assert_array_equal(native.reset(seeds), gym.reset(seeds))
        ends = {"life": 0, "game": 0, "cap": 0}
        for action in np.random.default_rng(0).integers(0, 4, (400, 2)):
            a, b = native.step(action), gym.step(action)
            for name in EnvStep._fields:
                if name != "episode_length":
                    np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
            done = a.terminated | a.truncated
            ends["life"] += int((done & np.isnan(a.episode_return)).sum())
            ends["game"] += int((a.terminated & ~np.isnan(a.episode_return)).sum())
            ends["cap"] += int(a.truncated.sum())
        assert min(ends.values()) > 0, ends
        env = gym._envs[0]
        assert env.observation_space == native.observation_space and env.action_space == native.action_space


@pytest.mark.parametrize("is_train", [False, True])
def test_stack_reset_on_life_loss_shows_evaluation_what_training_shows(is_train):
    """Evaluation envs with stack_reset_on_life_loss: the game (and its return) goes on through a life loss, but the
    stack restarts [0, 0, 0, frame] as a training episode after a life-loss end does: step for step the agent sees
    what a training env shows it, on both Atari paths. Training envs (episodic life) are unchanged by the key."""
    cfg, seeds = atari_cfg("BreakoutNoFrameskip-v4", stack_reset_on_life_loss=True), [5, 6]
    plain = atari_cfg("BreakoutNoFrameskip-v4")
    with (
        AtariEnvManager.build(plain, 2, is_train=True) as reference,
        AtariEnvManager.build(cfg, 2, is_train=is_train) as native,
        BaseEnvManager.build(cfg, 2, is_train=is_train) as gym,
    ):
        obs = reference.reset(seeds)
        np.testing.assert_array_equal(native.reset(seeds), obs)
        np.testing.assert_array_equal(gym.reset(seeds), obs)
        life_losses = 0
        for action in np.random.default_rng(0).integers(0, 4, (600, 2)):
            ref, a, b = reference.step(action), native.step(action), gym.step(action)
            for name in EnvStep._fields:
                if name != "episode_length":
                    np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
            np.testing.assert_array_equal(a.obs, ref.obs)  # what the agent sees next
            life_loss = ref.terminated & np.isnan(ref.episode_return)
            if not is_train:  # the evaluation's game goes on through it
                assert not (a.terminated & life_loss).any()
            life_losses += int(life_loss.sum())
        assert life_losses >= 4


@pytest.mark.multiprocess
def test_subprocess_manager_matches_base_manager():
    cfg = atari_cfg("SpaceInvadersNoFrameskip-v4", is_train=False)
    with SubprocessEnvManager.build(cfg, 2) as sub, BaseEnvManager.build(cfg, 2) as base:
        np.testing.assert_array_equal(sub.reset([1, 2]), base.reset([1, 2]))
        for action in np.random.default_rng(0).integers(0, 6, (20, 2)):
            np.testing.assert_array_equal(sub.step(action).obs, base.step(action).obs)


def test_resize_area_by_hand():
    frame = np.zeros((5, 5), dtype=np.uint8)
    frame[0, 0] = 255
    # 5 -> 2 pixels: output pixel 0 covers source pixels 0, 1 and half of 2, each weighted by coverage / 2.5
    out = resize_area(frame, 2, 2)
    assert out.tolist() == [[round(255 / 2.5 / 2.5), 0], [0, 0]]
    frame[:] = 77
    assert (resize_area(frame, 2, 2) == 77).all()
    assert resize_area(np.full((210, 160), 200, np.uint8), 84, 84).shape == (84, 84)


def test_noop_draws_are_std_mt19937():
    assert int(_Mt19937Below(5489)._bits.random_raw()) == 3499211612  # std::mt19937's first output (default seed)
    # ale-py's vector env with seed 0 plays 16 reset frames in SpaceInvaders (FIRE + 15 no-ops): a draw of 16
    assert _Mt19937Below(0).below(30) == 16


class ScriptedScores(gymnasium.Env):
    """A stand-in for an ale-py env (grey 210x160 frames, one emulator frame per step, lives in info) whose frames
    score ``FRAME_REWARDS``, 4 frames per agent step, then end the game: agent-step scores above 1, below -1,
    between them and 0."""

    FRAME_REWARDS = [[5, 0, 0, 0], [0, -2, 0, 0], [0.25, 0, 0, 0], [0, 0, 0, -0.5], [0, 0, 0, 0], [100, 30, 0, 0]]
    observation_space = gymnasium.spaces.Box(0, 255, (210, 160), np.uint8)
    action_space = gymnasium.spaces.Discrete(2)

    def get_action_meanings(self) -> list[str]:
        return ["NOOP", "RIGHT"]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.frame = 0
        return np.zeros((210, 160), np.uint8), {"lives": 3}

    def step(self, action):
        rewards = [r for step in self.FRAME_REWARDS for r in step]
        reward, self.frame = rewards[self.frame], self.frame + 1
        return np.full((210, 160), self.frame, np.uint8), reward, self.frame == len(rewards), False, {"lives": 3}


@pytest.mark.parametrize("clip_rewards", [True, False])
def test_wrapper_chain_clips_scores_outside_one_to_their_sign_and_reports_the_raw_return(clip_rewards):
    env = wrap_deepmind(ScriptedScores(), clip_rewards=clip_rewards, noop_max=0, fire_reset=False)
    env.reset(seed=0)
    rewards, info = [], {}
    for _ in ScriptedScores.FRAME_REWARDS:
        _, reward, terminated, truncated, info = env.step(0)
        rewards.append(reward)
    raw = [5.0, -2.0, 0.25, -0.5, 0.0, 130.0]  # each agent step: the sum of its 4 frames
    assert rewards == ([1.0, -1.0, 1.0, -1.0, 0.0, 1.0] if clip_rewards else raw)
    assert terminated and not truncated
    assert info["episode_return"] == sum(raw) and info["episode_length"] == 6  # the score, never clipped


def test_training_envs_clip_the_games_scores_and_evaluation_envs_do_not():
    """SpaceInvaders scores 5 to 30 points an invader: the gymnasium path's training envs (built by the manager with
    is_train=True) see each step's score as its sign, evaluation envs see the score, for the same seeds and
    actions."""
    cfg = atari_cfg("SpaceInvadersNoFrameskip-v4")
    with BaseEnvManager.build(cfg, 2, is_train=True) as train, BaseEnvManager.build(cfg, 2, is_train=False) as ev:
        train.reset([4, 5])
        ev.reset([4, 5])
        scores = []
        for action in np.random.default_rng(0).integers(0, 6, (400, 2)):
            tr, ev_out = train.step(action), ev.step(action)
            np.testing.assert_array_equal(tr.reward, np.sign(ev_out.reward))
            scores.extend(ev_out.reward[ev_out.reward != 0].tolist())
            if len(scores) >= 4:
                break
    assert len(scores) >= 4 and min(scores) > 1, scores


# -- what compile_config checks of an Atari env config (AtariEnv.check_config), for every manager and rank ----------

# copies: read_config runs the file in this process, where the shipped config's objects must stay as shipped
PONG_CONFIG = """
import copy
from dizoo.atari.config.serial.pong.pong_dqn_config import main_config, create_config
main_config, create_config = copy.deepcopy(main_config), copy.deepcopy(create_config)
main_config.env.update(collector_env_num=2, evaluator_env_num=1, n_evaluator_episode=1)
main_config.policy.other.replay_buffer.replay_buffer_size = 1000
create_config.env_manager = dict(type={manager!r}, **({{'batch_size': 1}} if {manager!r} == 'atari' else {{}}))
main_config.env.env_id = {env_id!r}
"""


def one_error_line(captured) -> str:
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ding: error: "), captured.err
    return lines[0]


@pytest.mark.parametrize(
    "env_id, says",
    [
        ("Pongg", "is not an Atari env id; write '<Game>NoFrameskip-v4'"),
        ("Pong-v4", "is not an Atari env id"),
        ("PongDeterministic-v4", "is not an Atari env id"),
        ("Pong-ramNoFrameskip-v4", "is not an Atari env id"),
        ("ALE/Pong-v4", "is not an Atari env id"),
        ("PongNoFrameskip-v0", "is not an Atari env id"),
        ("PonggNoFrameskip-v4", "ale-py has no game 'Pongg'. Did you mean 'Pong'?"),
        ("pongNoFrameskip-v4", "ale-py has no game 'pong'. Did you mean 'Pong'?"),
        ("ALE/Pongg-v5", "ale-py has no game 'Pongg'. Did you mean 'Pong'?"),
    ],
)
def test_a_wrong_env_id_is_one_line_before_anything_is_built(env_id, says, in_tmp, capsys):
    from ding.entry.cli import main as cli_main

    (in_tmp / "cfg.py").write_text(PONG_CONFIG.format(manager="atari", env_id=env_id))
    assert cli_main(["-m", "serial", "-c", "cfg.py", "-s", "0", "--max-env-step", "100"]) == 2
    line = one_error_line(capsys.readouterr())
    assert f"env.env_id={env_id!r}" in line and says in line
    assert sorted(os.listdir(in_tmp)) == ["cfg.py"]


@pytest.mark.parametrize("manager", ["base", "subprocess", "atari"])
def test_a_wrong_env_id_is_a_config_error_with_every_manager(manager, tmp_path):
    from ding.config import ConfigError
    from ding.config.config import read_config
    from ding.entry.run import prepare_config

    (tmp_path / "cfg.py").write_text(PONG_CONFIG.format(manager=manager, env_id="Pongg"))
    with pytest.raises(ConfigError, match="env.env_id='Pongg' is not an Atari env id"):
        prepare_config(read_config(str(tmp_path / "cfg.py")), 0, resume=False, on_policy=False)


def test_ale_roms_dir_is_checked_where_ale_py_reads_it(in_tmp, capsys, monkeypatch):
    from ale_py import roms

    from ding.config import compile_config
    from ding.entry.cli import main as cli_main

    (in_tmp / "cfg.py").write_text(PONG_CONFIG.format(manager="subprocess", env_id="PongNoFrameskip-v4"))
    monkeypatch.setenv("ALE_ROMS_DIR", "/nonexistent")
    assert cli_main(["-m", "serial", "-c", "cfg.py", "-s", "0", "--max-env-step", "100"]) == 2
    line = one_error_line(capsys.readouterr())
    assert "ALE_ROMS_DIR='/nonexistent' is not a folder" in line and "unset ALE_ROMS_DIR" in line
    (in_tmp / "empty").mkdir()
    monkeypatch.setenv("ALE_ROMS_DIR", str(in_tmp / "empty"))
    assert cli_main(["-m", "serial", "-c", "cfg.py", "-s", "0", "--max-env-step", "100"]) == 2
    line = one_error_line(capsys.readouterr())
    assert f"ALE_ROMS_DIR='{in_tmp / 'empty'}' holds no pong.bin" in line and "unset ALE_ROMS_DIR" in line
    assert sorted(os.listdir(in_tmp)) == ["cfg.py", "empty"]
    # the folder of the ROMs ale-py ships: the config compiles
    monkeypatch.setenv("ALE_ROMS_DIR", os.path.dirname(roms.__file__))
    cfg = compile_config(atari_cfg_main(), create_cfg=atari_create(), save_cfg=False)
    assert cfg.env.env_id == "PongNoFrameskip-v4"


def atari_cfg_main():
    from dizoo.atari.config.serial.pong.pong_dqn_config import main_config

    return copy.deepcopy(main_config)


def atari_create():
    from dizoo.atari.config.serial.pong.pong_dqn_config import create_config

    return copy.deepcopy(create_config)


@pytest.mark.slow
def test_ale_py_that_cannot_be_imported_is_one_line_naming_it(tmp_path):
    """A real import failure: a module named ale_py ahead of the installed one on PYTHONPATH raises ImportError."""
    (tmp_path / "fake" / "ale_py").mkdir(parents=True)
    (tmp_path / "fake" / "ale_py" / "__init__.py").write_text("raise ImportError('ale-py is broken here')\n")
    (tmp_path / "cfg.py").write_text(PONG_CONFIG.format(manager="atari", env_id="PongNoFrameskip-v4"))
    env = dict(os.environ, PYTHONPATH=f"{tmp_path / 'fake'}{os.pathsep}{REPO_ROOT}", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "ding", "-m", "serial", "-c", "cfg.py", "--max-env-step", "100"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "Atari envs need ale-py, which cannot be imported (ImportError: ale-py is broken here)" in proc.stderr
    assert "pip install 'ale-py>=0.10'" in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["cfg.py", "fake"]


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_wrong_env_id_under_torchrun_is_one_line_per_rank(tmp_path):
    (tmp_path / "cfg.py").write_text(PONG_CONFIG.format(manager="atari", env_id="Pongg"))
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ding"]
    proc = subprocess.run(
        [*cmd, "-m", "serial", "-c", "cfg.py", "--max-env-step", "100"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # each rank ends with one line (rank 0's error, exit 2; a rank told of it first stops with exit 3); the only
    # traceback is torchrun's own summary, with no frame of ding's code
    assert proc.returncode != 0 and f"{os.path.join(REPO_ROOT, 'ding')}{os.sep}" not in proc.stderr, proc.stderr[-3000:]
    assert "ding: error: env.env_id='Pongg' is not an Atari env id" in proc.stderr
    ding_lines = [line for line in proc.stderr.splitlines() if line.startswith("ding: ")]
    assert ding_lines and all("env.env_id='Pongg' is not an Atari env id" in line for line in ding_lines)
    assert "ValueError" not in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["cfg.py"]
