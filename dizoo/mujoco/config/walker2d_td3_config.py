"""TD3 on walker2d (MuJoCo v5) with DI-engine's settings (dizoo/mujoco/config/mujoco_offpolicy.py).

Run: python dizoo/mujoco/config/walker2d_td3_config.py
 or: ding -m serial -c dizoo/mujoco/config/walker2d_td3_config.py -s 0 --max-env-step 1000000
Needs MuJoCo: pip install -e '.[mujoco]'.
"""

from dizoo.mujoco.config.mujoco_offpolicy import mujoco_offpolicy_config

main_config, create_config = mujoco_offpolicy_config("walker2d", "td3")
walker2d_td3_config, walker2d_td3_create_config = main_config, create_config  # DI-engine's names

if __name__ == "__main__":
    # or: ding -m serial -c walker2d_td3_config.py -s 0 --max-env-step 1000000
    from ding.entry import run_main, serial_pipeline

    run_main(serial_pipeline, (main_config, create_config), seed=0, max_env_step=1_000_000)
