"""PPO on humanoid (MuJoCo v5), tuned settings (dizoo/mujoco/config/mujoco_onppo.py).

Run: python dizoo/mujoco/config/humanoid_onppo_config.py
 or: ding -m serial_onpolicy -c dizoo/mujoco/config/humanoid_onppo_config.py -s 0 --max-env-step 1000000
Needs MuJoCo: pip install -e '.[mujoco]'.
"""

from dizoo.mujoco.config.mujoco_onppo import mujoco_onppo_config

main_config, create_config = mujoco_onppo_config("humanoid")
humanoid_onppo_config, humanoid_onppo_create_config = main_config, create_config  # DI-engine's names

if __name__ == "__main__":
    # or: ding -m serial_onpolicy -c humanoid_onppo_config.py -s 0 --max-env-step 1000000
    from ding.entry import run_main, serial_pipeline_onpolicy

    run_main(serial_pipeline_onpolicy, (main_config, create_config), seed=0, max_env_step=1_000_000)
