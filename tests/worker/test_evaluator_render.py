"""DI-engine's evaluator render (``policy.eval.evaluator.render``): every render_freq train iterations (or env
steps) an evaluation is filmed and its worst, median and best episodes go to TensorBoard as animated images."""

import io
import os
import tempfile

import gymnasium
import numpy as np
import pytest
from PIL import Image

from ding.config import compile_config
from ding.config.config import ConfigError
from ding.entry import serial_pipeline
from ding.entry.run import build_env_managers, build_evaluator
from ding.envs import BaseEnvManager, DingEnvWrapper
from ding.utils.log_helper import Logger
from ding.utils.registry import POLICY_REGISTRY
from ding.utils.video import gif_bytes
from ding.worker import InteractionSerialEvaluator


def images(log_dir):
    """{tag: [(step, frames of the GIF), ...]} of a TensorBoard log folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(log_dir, size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    found = {}
    for tag in events.Tags()["images"]:
        found[tag] = [(e.step, Image.open(io.BytesIO(e.encoded_image_string)).n_frames) for e in events.Images(tag)]
    return found, events


def test_pipeline_films_every_render_freq_iterations_worst_median_best(cartpole_dqn, in_tmp, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(in_tmp / "tmp"))  # where the filmed episodes are kept meanwhile
    os.makedirs(in_tmp / "tmp")
    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    main.env.evaluator_env_num = 2
    main.env.n_evaluator_episode = 3
    main.policy.learn.update_per_collect = 1  # one train iteration per loop: an evaluation every 2
    main.policy.eval.evaluator.eval_freq = 2
    main.policy.eval.evaluator.render = dict(render_freq=4, mode="train_iter")
    serial_pipeline((main, create), seed=0, max_train_iter=9)
    found, events = images("cartpole_dqn_seed0/log")
    # evaluations at iterations 0, 2, 4, 6, 8 and the final one at 9: DI-engine's rule films 4 and 8 (from -1)
    assert sorted(found) == ["evaluator_train_iter/best", "evaluator_train_iter/median", "evaluator_train_iter/worst"]
    for tag, films in found.items():
        assert [step for step, _ in films] == [4, 8], tag
    lowest = {int(e.step): e.value for e in events.Scalars("evaluator_iter/episode_return_min")}
    highest = {int(e.step): e.value for e in events.Scalars("evaluator_iter/episode_return_max")}
    for step in (4, 8):  # a CartPole episode's return is its length: one GIF frame per step
        assert dict(found["evaluator_train_iter/worst"])[step] == lowest[step]
        assert dict(found["evaluator_train_iter/best"])[step] == highest[step]
        assert lowest[step] <= dict(found["evaluator_train_iter/median"])[step] <= highest[step]
    log = open("cartpole_dqn_seed0/log/train.log").read()
    assert log.count("[evaluator] filmed at train_iter") == 2
    assert os.listdir(in_tmp / "tmp") == []  # the videos were temporary
    assert not os.path.exists("videos")


def test_envs_render_only_in_evaluations_that_film(cartpole_dqn, in_tmp):
    main, create = cartpole_dqn
    main.env.evaluator_env_num = 1
    main.env.n_evaluator_episode = 1
    main.policy.eval.evaluator.render = dict(render_freq=10, mode="envstep")
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    _, _, env, seeds = build_env_managers(cfg, seed=0, collector=False)
    logger = Logger("exp", enabled=True)
    try:
        policy = POLICY_REGISTRY.build("dqn", cfg.policy, enable_field=["eval"])
        evaluator = build_evaluator(cfg, env, policy, logger, seeds)
        calls = []
        render = env._envs[0].render
        env._envs[0].render = lambda: calls.append(1) or render()
        evaluator.eval(train_iter=0, envstep=5)  # 5 - (-1) < 10: not filmed, nothing rendered
        assert calls == [] and env.frames is None
        evaluator.eval(train_iter=1, envstep=9)  # 9 - (-1) >= 10: filmed
        assert len(calls) == evaluator.last_result["episode_return_mean"]  # one frame per CartPole step
        state = evaluator.state_dict()
        assert state["last_render_iter"] == 9
        evaluator.eval(train_iter=2, envstep=18)  # 18 - 9 < 10: not filmed
        evaluator.load_state_dict(dict(state, last_render_iter=-1))
        assert evaluator.should_render(envstep=9, train_iter=0)
    finally:
        env.close()
        logger.close()
    found, _ = images("exp/log")
    assert {tag: [step for step, _ in films] for tag, films in found.items()} == {"evaluator_envstep/episode": [9]}


@pytest.mark.parametrize(
    "render, words",
    [
        (dict(render_freq=10, mode="iteration"), "render.mode must be one of 'train_iter', 'envstep'"),
        (dict(render_freq=-2, mode="train_iter"), "render.render_freq"),
        (dict(render_freq=1.5, mode="train_iter"), "render.render_freq"),
        (dict(render_freq=10, fps=30), "Unknown config key 'policy.eval.evaluator.render.fps'"),
    ],
)
def test_bad_render_settings_are_refused_by_name(cartpole_dqn, render, words):
    main, create = cartpole_dqn
    main.policy.eval.evaluator.render = render
    with pytest.raises(ConfigError, match=words.replace(".", r"\.").replace("(", r"\(")):
        compile_config(main, create_cfg=create, save_cfg=False)


def cartpole_envs(render_mode):
    return BaseEnvManager(
        [lambda: DingEnvWrapper(gymnasium.make("CartPole-v1", render_mode=render_mode))] * 2, dict(shared_memory=False)
    )


@pytest.mark.parametrize("writer_module", ["torch.utils.tensorboard", "tensorboardX"])
def test_di_engines_call_form_films_into_the_users_writer(cartpole_dqn, tmp_path, writer_module):
    SummaryWriter = pytest.importorskip(writer_module).SummaryWriter
    main, create = cartpole_dqn
    main.exp_name = str(tmp_path / "exp")
    main.env.n_evaluator_episode = 2
    main.policy.eval.evaluator.render = dict(render_freq=1000, mode="train_iter")
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.build("dqn", cfg.policy, enable_field=["eval"])
    env = cartpole_envs("rgb_array")
    env.seed(0, dynamic_seed=False)
    writer = SummaryWriter(str(tmp_path / "tb"))
    evaluator = InteractionSerialEvaluator(
        cfg.policy.eval.evaluator, env, policy.eval_mode, writer, exp_name=cfg.exp_name
    )
    try:
        evaluator.eval(train_iter=0)  # not due (0 - (-1) < 1000)
        evaluator.eval(train_iter=1, force_render=True)  # DI-engine's force_render films it anyway
    finally:
        writer.close()
        evaluator.close()
        env.close()
    found, _ = images(str(tmp_path / "tb"))
    assert {tag: [step for step, _ in films] for tag, films in found.items()} == {
        "evaluator_train_iter/worst": [1],
        "evaluator_train_iter/best": [1],
    }


def test_envs_that_cannot_render_are_refused_when_the_evaluator_is_built(cartpole_dqn, tmp_path):
    main, create = cartpole_dqn
    main.exp_name = str(tmp_path / "exp")
    main.policy.eval.evaluator.render = dict(render_freq=1000, mode="train_iter")
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.build("dqn", cfg.policy, enable_field=["eval"])
    env = cartpole_envs(None)
    try:
        with pytest.raises(
            ValueError,
            match=r"policy\.eval\.evaluator\.render \(TensorBoard videos\): the envs must "
            r"render RGB frames.*render_mode='rgb_array'.*set its render_freq to -1",
        ):
            InteractionSerialEvaluator(cfg.policy.eval.evaluator, env, policy.eval_mode, None, exp_name=cfg.exp_name)
    finally:
        env.close()


def test_long_episodes_go_to_tensorboard_as_every_kth_frame():
    frames = [np.full((20, 30, 3), i * 20, dtype=np.uint8) for i in range(10)]
    encoded, height, width = gif_bytes(iter(frames), fps=50, every=3)
    gif = Image.open(io.BytesIO(encoded))
    assert (gif.n_frames, height, width) == (4, 20, 30)  # frames 0, 3, 6, 9
    assert gif.info["duration"] == 60  # each shown 3 frames long at 50 fps
    encoded, height, width = gif_bytes(frames, fps=50, max_width=15)
    assert (Image.open(io.BytesIO(encoded)).n_frames, height, width) == (10, 10, 15)
    with pytest.raises(ValueError, match="no frames"):
        gif_bytes([], fps=50)
