"""Rainbow (Hessel et al. 2018) as DI-engine names it: C51 (ding/policy/c51.py: double selection, n-step returns,
the categorical loss) with a dueling head of NoisyNet layers (model 'rainbowdqn') and prioritised replay with
importance weights. This file holds only Rainbow's defaults, DI-engine's; the algorithm is C51's.

Exploration is the noisy layers' (fresh noise at every forward in collection; mean weights in evaluation) plus
epsilon-greedy with ``other.eps`` (0.05 throughout by default, as in DI-engine; set start=end=0 for noise alone).
"""

from ding.config.config import ConfigError
from ding.policy.c51 import C51Policy
from ding.utils.registry import POLICY_REGISTRY


@POLICY_REGISTRY.register("rainbow")
class RainbowPolicy(C51Policy):
    default_model = "rainbowdqn"
    # the defaults Rainbow changes from C51's (DI-engine's RainbowDQNPolicy.config)
    config = dict(
        type="rainbow",
        priority=True,  # prioritised replay, sampled by the cross-entropy
        priority_IS_weight=True,  # weight the loss by the importance-sampling weights
        discount_factor=0.99,  # gamma, per env step
        nstep=3,  # steps in the n-step return
        learn=dict(
            update_per_collect=1,  # gradient steps after each collect
            batch_size=32,  # transitions per gradient step
            iqn=False,  # DI-engine key (its Qbert and SpaceInvaders Rainbow files set False): no effect; True refused
        ),
        other=dict(
            eps=dict(
                type="exp",  # epsilon on top of the noisy layers' exploration
                start=0.05,  # epsilon at env step 0
                end=0.05,  # epsilon reached after decay
                decay=100000,  # env steps of the decay
            ),
            replay_buffer=dict(replay_buffer_size=100000),  # transitions kept
        ),
    )

    @classmethod
    def check_config(cls, cfg) -> None:
        super().check_config(cfg)
        if cfg.learn.iqn:
            raise ConfigError(
                "Config key 'policy.learn.iqn'=True (Rainbow with implicit quantiles) is not supported; ding's IQN "
                "is a policy type of its own: create_config.policy.type='iqn' (model.noise=True, model.dueling=True "
                "give it Rainbow's head)"
            )


RainbowDQNPolicy = RainbowPolicy  # DI-engine's name (ding.policy.RainbowDQNPolicy)
