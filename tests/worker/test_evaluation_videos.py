"""Evaluation videos: one MP4 per episode with as many frames as the episode had steps, at the env's render size."""

import copy
import json
import os
import subprocess
import sys

import imageio
import pytest

from ding.entry import eval as eval_entry
from ding.entry import serial_pipeline
from tests.conftest import REPO_ROOT


def decode(path):
    reader = imageio.get_reader(path)
    frames = [frame for frame in reader]
    reader.close()
    return frames


def test_cartpole_videos_from_training_and_from_ding_eval(cartpole_dqn, in_tmp, capsys):
    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    main.env.evaluator_env_num = 2
    main.env.n_evaluator_episode = 3
    main.env.replay_path = "videos"
    main.policy.eval.evaluator.video_to_tensorboard = True
    serial_pipeline((main, create), seed=0, max_train_iter=5)
    records = [json.loads(line) for line in open("videos/episodes.json")]
    assert len(records) == 6 and sorted({r["episode"] for r in records}) == [0, 1, 2]  # 2 evaluations x 3 episodes
    for record in records:
        path = os.path.join("videos", record["video"])
        assert (
            record["video"]
            == f"envstep{record['envstep']}_episode{record['episode']}_return{record['episode_return']:g}.mp4"
        )
        frames = decode(path)
        assert len(frames) == record["episode_length"] == record["frames"] == int(record["episode_return"])
        assert frames[0].shape == (400, 600, 3)  # CartPole renders 600 x 400
    # the first episode of each evaluation is also in TensorBoard, as an animated image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator("cartpole_dqn_seed0/log", size_guidance={"images": 0})
    events.Reload()
    assert len(events.Images("evaluator_step/episode_video")) == 2

    # ding -m eval with a replay path, from the final checkpoint
    capsys.readouterr()
    eval_entry((main, create), seed=0, load_path="cartpole_dqn_seed0/ckpt/final.pth.tar", replay_path="eval_videos")
    assert "videos: eval_videos" in capsys.readouterr().out
    assert len([f for f in os.listdir("eval_videos") if f.endswith(".mp4")]) == 3


def test_recording_is_off_by_default_and_costs_nothing(in_tmp):
    script = (
        "import copy, sys\n"
        "from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config\n"
        "from ding.entry import serial_pipeline\n"
        "main = copy.deepcopy(main_config); main.env.stop_value = 10**6\n"
        "serial_pipeline((main, create_config), seed=0, max_train_iter=2)\n"
        "print('video modules:', [m for m in ('imageio', 'pygame', 'ding.utils.video') if m in sys.modules])\n"
    )
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert "video modules: []" in out
    assert not [f for f in os.listdir(".") if f.endswith(".mp4") or f == "videos"]


@pytest.mark.slow
def test_atari_videos_are_full_colour_frames(in_tmp):
    pytest.importorskip("ale_py")
    from dizoo.atari.config.serial.pong.pong_dqn_config import create_config, main_config

    main = copy.deepcopy(main_config)
    main.env.evaluator_env_num = 1
    main.env.n_evaluator_episode = 1
    main.env.max_episode_frames = 400  # a short game: the frame cap truncates it
    main.policy.cuda = False
    main.policy.model.encoder_hidden_size_list = [8, 8, 8, 16]
    path = "pong_ckpt.pth.tar"
    import torch

    from ding.model import DQN

    torch.save({"model": DQN([4, 84, 84], 6, encoder_hidden_size_list=[8, 8, 8, 16]).state_dict()}, path)
    eval_entry((main, copy.deepcopy(create_config)), seed=0, load_path=path, replay_path="pong_videos")
    records = [json.loads(line) for line in open("pong_videos/episodes.json")]
    assert len(records) == 1
    frames = decode(os.path.join("pong_videos", records[0]["video"]))
    assert len(frames) == records[0]["episode_length"] == 100  # 400 emulator frames, 4 per agent step
    assert frames[0].shape == (210, 160, 3)  # the full-colour screen, not the 84x84 grey input
    assert frames[0].std(axis=2).mean() > 1.0  # colour, not grey


def test_videos_are_numbered_by_episode_not_by_the_order_episodes_end(cartpole_dqn, in_tmp):
    """Episode k is env i's j-th episode (k = env 0's quota + ... + j), whichever env finishes first, so video k shows
    the episode whose return is returns[k] and starts from the same seed at every evaluation."""
    from easydict import EasyDict

    from ding.config import compile_config
    from ding.entry.run import build_env_managers, build_evaluator
    from ding.utils.log_helper import Logger
    from ding.utils.registry import POLICY_REGISTRY

    main, create = cartpole_dqn
    main.env.evaluator_env_num = 2
    main.env.n_evaluator_episode = 5  # env 0: episodes 0-2, env 1: episodes 3-4
    main.env.replay_path = "videos"
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    _, _, env, seeds = build_env_managers(cfg, seed=3, collector=False)
    logger = Logger(None, enabled=True, tensorboard=False)
    try:
        policy = POLICY_REGISTRY.build("dqn", cfg.policy, enable_field=["eval"])
        evaluator = build_evaluator(cfg, env, policy, logger, seeds)
        returns = evaluator.run_episodes(envstep=0)
    finally:
        env.close()
        logger.close()
    records = [EasyDict(json.loads(line)) for line in open("videos/episodes.json")]  # in the order episodes ended
    assert [r.env for r in records] != sorted(r.env for r in records)  # env 1 finished one before env 0 did
    assert sorted(r.episode for r in records) == [0, 1, 2, 3, 4]
    for record in records:
        assert record.episode_return == returns[record.episode]
        assert record.env == (0 if record.episode < 3 else 1)
        assert record.video == f"envstep0_episode{record.episode}_return{record.episode_return:g}.mp4"
    assert sorted(os.listdir("videos")) == sorted([r.video for r in records] + ["episodes.json"])


MUJOCO_VIDEO = """
import copy, json, os, sys
from dizoo.mujoco.config.hopper_sac_config import main_config, create_config
from ding.config import compile_config
from ding.entry.run import build_env_managers, build_evaluator
from ding.utils.log_helper import Logger
from ding.utils.registry import POLICY_REGISTRY
main = copy.deepcopy(main_config)
main.env.evaluator_env_num = 1
main.env.n_evaluator_episode = 1
main.env.replay_path = "videos"
main.env.max_episode_steps = 20  # software OpenGL: ~0.1 s a frame
cfg = compile_config(main, create_cfg=copy.deepcopy(create_config), save_cfg=False)
try:  # envs that cannot render are refused here, before anything is written
    _, _, env, seeds = build_env_managers(cfg, seed=0, collector=False)
except ValueError as err:
    print("refused:", err)
    sys.exit(3)
policy = POLICY_REGISTRY.build(cfg.policy.type, cfg.policy, enable_field=["eval"])
try:
    returns = build_evaluator(cfg, env, policy, Logger(None, enabled=True, tensorboard=False), seeds).run_episodes()
except ValueError as err:
    print("refused:", err)
    sys.exit(3)
finally:
    env.close()
print("MUJOCO_GL", os.environ.get("MUJOCO_GL"))
"""


@pytest.mark.parametrize("backend", [None, "glfw"])
def test_mujoco_videos_render_without_a_display(in_tmp, backend):
    """Without a display ding renders MuJoCo through EGL (gymnasium would pick GLFW and fail at the first frame);
    a backend that cannot render is refused before the first episode, with what to do."""
    pytest.importorskip("mujoco")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MUJOCO_GL")}
    env.update(PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1", **({"MUJOCO_GL": backend} if backend else {}))
    run = subprocess.run([sys.executable, "-c", MUJOCO_VIDEO], env=env, capture_output=True, text=True)
    if backend == "glfw":  # GLFW needs a display: refused at the evaluation's start, nothing written
        assert run.returncode == 3, run.stderr[-2000:]
        assert (
            "env.replay_path (evaluation videos): env type 'mujoco' failed to render an rgb_array frame" in run.stdout
        )
        assert "MUJOCO_GL=egl" in run.stdout and "leave env.replay_path None" in run.stdout
        assert not os.path.exists("videos/episodes.json")
        return
    assert run.returncode == 0, run.stderr[-2000:]
    assert "MUJOCO_GL egl" in run.stdout
    (record,) = [json.loads(line) for line in open("videos/episodes.json")]
    frames = decode(os.path.join("videos", record["video"]))
    assert len(frames) == record["episode_length"] == 20
    assert frames[0].shape == (480, 480, 3) and frames[0].std() > 1.0  # a rendered scene, not a blank frame


def _dingine_config(cartpole_dqn, env_type: str):
    main, create = cartpole_dqn
    main.env.update(collector_env_num=2, evaluator_env_num=1, n_evaluator_episode=1, max_steps=20)
    create.env = dict(type=env_type, import_names=["tests.envs.dingine_style_env"])
    return main, create


def test_videos_of_an_env_that_cannot_render_are_refused_before_anything_is_written(cartpole_dqn, in_tmp, capsys):
    """A DI-engine-style env without render(): training with env.replay_path and `ding eval --replay-path` each end
    with one line naming the env type (no MuJoCo advice: it is no MuJoCo env), before any folder is written."""
    from ding.entry.script import call_reporting_errors

    main, create = _dingine_config(cartpole_dqn, "dingine_cartpole")
    main.env.replay_path = "vids"
    assert call_reporting_errors(serial_pipeline, (main, create), seed=0, max_env_step=100) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ding: error: env.replay_path (evaluation videos): env type ")
    assert "'dingine_cartpole' renders no rgb_array frames" in err and "MUJOCO" not in err
    assert os.listdir(in_tmp) == []
    main.env.replay_path = None
    assert call_reporting_errors(eval_entry, (main, create), seed=0, state_dict={"model": {}}, replay_path="v2") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'dingine_cartpole' renders no rgb_array frames" in err
    assert os.listdir(in_tmp) == []
