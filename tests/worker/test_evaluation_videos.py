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
