"""DER (data-efficient Rainbow) on Qbert under the Atari 100k protocol: 100k agent steps of training, then 100
evaluation episodes. The settings and their sources: dizoo/atari/config/atari100k/atari100k.py.

Run: python dizoo/atari/config/atari100k/qbert_der_config.py
 or: ding -m serial -c dizoo/atari/config/atari100k/qbert_der_config.py -s 0
"""

from dizoo.atari.config.atari100k.atari100k import atari100k_config

main_config, create_config = atari100k_config("Qbert", "der")
qbert_der_config, qbert_der_create_config = main_config, create_config  # DI-engine's names

if __name__ == "__main__":
    # or: ding -m serial -c qbert_der_config.py -s 0
    from ding.entry import run_main, serial_pipeline

    run_main(serial_pipeline, (main_config, create_config), seed=0)
