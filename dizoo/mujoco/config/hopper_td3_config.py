"""TD3 on hopper (MuJoCo v5) with DI-engine's settings (dizoo/mujoco/config/mujoco_offpolicy.py).

Run: python dizoo/mujoco/config/hopper_td3_config.py
 or: ding -m serial -c dizoo/mujoco/config/hopper_td3_config.py -s 0 --max-env-step 1000000
Needs MuJoCo: pip install -e '.[mujoco]'.
"""

from dizoo.mujoco.config.mujoco_offpolicy import mujoco_offpolicy_config

main_config, create_config = mujoco_offpolicy_config("hopper", "td3")
hopper_td3_config, hopper_td3_create_config = main_config, create_config  # DI-engine's names

if __name__ == "__main__":
    # or: ding -m serial -c hopper_td3_config.py -s 0 --max-env-step 1000000
    from ding.entry import run_main, serial_pipeline

    run_main(serial_pipeline, (main_config, create_config), seed=0, max_env_step=1_000_000)
