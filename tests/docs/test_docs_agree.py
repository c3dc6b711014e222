"""What the docs say about a key or a file agrees with what the code does."""

import os
import re

from ding.config.config import ENV_COMMON_CONFIG
from tests.conftest import REPO_ROOT


def paragraphs_mentioning(word: str) -> list[tuple[str, str]]:
    """(file, paragraph) for every paragraph of README.md and docs/*.md that mentions ``word``."""
    paths = [os.path.join(REPO_ROOT, "README.md")]
    docs = os.path.join(REPO_ROOT, "docs")
    paths += [os.path.join(docs, name) for name in sorted(os.listdir(docs)) if name.endswith(".md")]
    found = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for paragraph in re.split(r"\n\s*\n", f.read()):
                if word in paragraph:
                    found.append((os.path.relpath(path, REPO_ROOT), " ".join(paragraph.split())))
    return found


def test_every_mention_of_replay_path_says_it_records_videos():
    """env.replay_path records one MP4 per evaluated episode (tests/worker/test_evaluation_videos.py); no sentence
    of the docs may say it is ignored or only warned about."""
    from ding.config import config as config_module
    from ding.config.reference import module_dict_comments

    assert "replay_path" in ENV_COMMON_CONFIG
    assert "MP4 per evaluated episode" in module_dict_comments(config_module, "ENV_COMMON_CONFIG")["replay_path"]
    mentions = paragraphs_mentioning("replay_path")
    assert len(mentions) >= 3
    for path, paragraph in mentions:
        for sentence in re.split(r"(?<=[.;:])\s", paragraph):
            if "replay_path" not in sentence:
                continue
            for claim in ("no video is written", "not supported", "ignored", "warning"):
                assert claim not in sentence.lower(), f"{path} says '{claim}' about replay_path: {sentence}"


def test_the_video_file_names_in_the_docs_are_the_evaluators():
    from ding.worker.evaluator import interaction_serial_evaluator

    source = open(interaction_serial_evaluator.__file__, encoding="utf-8").read()
    assert 'f"envstep{envstep}_episode{episode_index}_return{episode_return:g}"' in source
    (quickstart,) = [p for f, p in paragraphs_mentioning("envstep<N>_episode<k>_return<R>.mp4") if "quickstart" in f]
    assert "numbered by env, not by the order they end in" in quickstart


def test_the_docs_say_an_on_policy_n_sample_is_rounded_up_to_whole_env_steps_as_the_pipeline_does():
    """docs/ppo.md: an n_sample that is not a multiple of env.collector_env_num is rounded up with a warning, not
    refused (ding.entry.serial_entry_onpolicy.apply_world_size_onpolicy)."""
    import copy

    import pytest

    from ding.config import compile_config
    from ding.entry.serial_entry_onpolicy import apply_world_size_onpolicy
    from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config, main_config

    main = copy.deepcopy(main_config)
    main.policy.collect.n_sample = 4  # 8 collector envs: one step of each
    cfg = compile_config(main, create_cfg=copy.deepcopy(create_config), save_cfg=False)
    with pytest.warns(UserWarning, match="is not a multiple of env.collector_env_num=8.*collects 8 transitions"):
        apply_world_size_onpolicy(cfg, 1)
    assert cfg.policy.collect.n_sample == 8
    page = " ".join(open(os.path.join(REPO_ROOT, "docs", "ppo.md"), encoding="utf-8").read().split())
    assert "must be a multiple" not in page
    assert "rounded up to the next multiple, with one warning (`n_sample=4` with 8 envs collects 8" in page
