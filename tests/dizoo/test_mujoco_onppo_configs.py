"""The MuJoCo PPO factory: the common (Tianshou's) settings, each task's replacements, and an evaluation every
20,480 env steps whatever the collect size and epochs."""

import pytest

from dizoo.mujoco.config.mujoco_onppo import EVAL_EVERY_ENV_STEPS, TASK_POLICY, TASKS, mujoco_onppo_config


@pytest.mark.parametrize("task", sorted(TASKS))
def test_evaluation_every_20480_env_steps(task):
    policy = mujoco_onppo_config(task)[0].policy
    learn, n_sample = policy.learn, policy.collect.n_sample
    iters_per_collect = learn.epoch_per_collect * (n_sample // learn.batch_size)
    assert policy.eval.evaluator.eval_freq / iters_per_collect * n_sample == EVAL_EVERY_ENV_STEPS == 20_480


def test_halfcheetah_has_rl_zoos_settings_and_the_others_tianshous():
    cheetah, cheetah_env = mujoco_onppo_config("halfcheetah")[0].policy, mujoco_onppo_config("halfcheetah")[0].env
    assert (cheetah.collect.n_sample, cheetah.collect.discount_factor, cheetah.collect.gae_lambda) == (512, 0.98, 0.92)
    assert cheetah.learn.lr_scheduler is None and cheetah.learn.epoch_per_collect == 20 and cheetah.learn.adv_norm
    assert cheetah.model.encoder_hidden_size_list == [256, 256] and cheetah.model.log_sigma_init == -2.0
    assert cheetah.eval.evaluator.eval_freq == 6400 and cheetah_env.norm_reward.reward_discount == 0.98
    hopper = mujoco_onppo_config("hopper")[0].policy
    assert (hopper.collect.n_sample, hopper.learn.epoch_per_collect, hopper.model.activation) == (2048, 10, "tanh")
    assert hopper.learn.lr_scheduler.epoch_num == 488 and hopper.eval.evaluator.eval_freq == 3200
    assert set(TASK_POLICY) <= set(TASKS)


def test_a_new_pair_on_every_call():
    first, second = mujoco_onppo_config("halfcheetah")[0], mujoco_onppo_config("halfcheetah")[0]
    first.policy.model.encoder_hidden_size_list.append(1)
    first.policy.learn.epoch_per_collect = 1
    assert second.policy.model.encoder_hidden_size_list == [256, 256] and second.policy.learn.epoch_per_collect == 20
