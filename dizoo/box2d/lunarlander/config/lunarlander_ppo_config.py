"""PPO on LunarLander-v3 (discrete actions): solved when the evaluation mean over 10 episodes reaches 200.

Run: python dizoo/box2d/lunarlander/config/lunarlander_ppo_config.py
 or: ding -m serial_onpolicy -c dizoo/box2d/lunarlander/config/lunarlander_ppo_config.py -s 0
Needs Box2D: pip install -e '.[box2d]'. Results per seed: docs/benchmarks/classic.md.

RL Zoo's LunarLander PPO settings (gamma 0.999, GAE lambda 0.98, entropy 0.01, separate 64-64 tanh actor and
critic) with shorter rollouts and DI-engine's 10 epochs: 1024 transitions per collect (128 steps of 8 envs), 160
gradient steps each (with 4 epochs, seed 0 needed 440k env steps instead of 143k).
"""

from easydict import EasyDict

lunarlander_ppo_config = dict(
    exp_name="lunarlander_ppo_seed0",
    env=dict(
        env_id="LunarLander-v3",
        collector_env_num=8,
        evaluator_env_num=10,
        n_evaluator_episode=10,
        stop_value=200,
    ),
    policy=dict(
        cuda=False,
        action_space="discrete",
        recompute_adv=True,
        model=dict(
            obs_shape=8,
            action_shape=4,
            action_space="discrete",
            share_encoder=False,
            encoder_hidden_size_list=[64, 64],
            actor_head_layer_num=0,
            critic_head_layer_num=0,
            activation="tanh",
        ),
        learn=dict(
            epoch_per_collect=10,
            batch_size=64,
            learning_rate=3e-4,
            value_weight=0.5,
            entropy_weight=0.01,
            clip_ratio=0.2,
            adv_norm=True,
            value_norm=True,
        ),
        collect=dict(n_sample=1024, discount_factor=0.999, gae_lambda=0.98),
        # every 1600 train iterations = 10 collects = 10,240 env steps
        eval=dict(evaluator=dict(eval_freq=1600)),
    ),
)
lunarlander_ppo_config = EasyDict(lunarlander_ppo_config)
main_config = lunarlander_ppo_config

lunarlander_ppo_create_config = dict(
    env=dict(type="gym"),
    env_manager=dict(type="base"),
    policy=dict(type="ppo"),
)
lunarlander_ppo_create_config = EasyDict(lunarlander_ppo_create_config)
create_config = lunarlander_ppo_create_config

if __name__ == "__main__":
    # or: ding -m serial_onpolicy -c lunarlander_ppo_config.py -s 0
    from ding.entry import run_main, serial_pipeline_onpolicy

    run_main(serial_pipeline_onpolicy, (main_config, create_config), seed=0)
