"""Published Atari 100k reference scores (per-game means at 100k agent steps), the constants of
run_atari100k.py and report_atari100k.py. Sources (docs/benchmarks/atari100k.md):

- Random, Human, DrQ(eps), SPR: the rliable run files (100 runs per game; Agarwal et al. 2021), means recomputed;
  they match BBF's Table A.1.
- DER: van Hasselt et al. 2019's own numbers, as copied in mila-iqia/spr's analysis/100k_comparison.ipynb.
"""

RANDOM = {"Pong": -20.7, "Breakout": 1.7, "Qbert": 163.9, "Boxing": 0.1, "Freeway": 0.0, "MsPacman": 307.3}
HUMAN = {"Pong": 14.6, "Breakout": 30.5, "Qbert": 13455.0, "Boxing": 12.1, "Freeway": 29.6, "MsPacman": 6951.6}
PUBLISHED = {
    "DER": {"Pong": -19.3, "Breakout": 1.9, "Qbert": 1152.9, "Boxing": 0.2, "Freeway": 27.9, "MsPacman": 1204.1},
    "DrQ(eps)": {"Pong": -9.1, "Breakout": 19.8, "Qbert": 1810.7, "Boxing": 9.0, "Freeway": 20.3, "MsPacman": 1218.1},
    "SPR": {"Pong": -5.4, "Breakout": 19.6, "Qbert": 866.3, "Boxing": 35.7, "Freeway": 19.3, "MsPacman": 1318.4},
}
# the published algorithm each of ding's Atari 100k configs reproduces
PUBLISHED_NAME = {"drq_eps": "DrQ(eps)", "der": "DER"}
