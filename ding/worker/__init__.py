"""The workers: learner, collectors, evaluator, and DI-engine's replay buffer interface on ding's buffer.

The pipelines build them with ding's :class:`~ding.utils.log_helper.Logger`; DI-engine's hand-written entry scripts
build them with a ``tb_logger`` (docs/component_api.md).
"""

from typing import Any

from .collector import RolloutCollector, SampleSerialCollector
from .evaluator import InteractionSerialEvaluator
from .learner import BaseLearner
from .replay_buffer import AdvancedReplayBuffer, NaiveReplayBuffer

__all__ = [
    "AdvancedReplayBuffer",
    "BaseLearner",
    "InteractionSerialEvaluator",
    "NaiveReplayBuffer",
    "RolloutCollector",
    "SampleSerialCollector",
]

# DI-engine names ding does not provide, and what to use instead (docs/component_api.md)
NOT_PROVIDED = {
    "EpisodeSerialCollector": "collect whole episodes with SampleSerialCollector (n_sample transitions)",
    "BattleSampleSerialCollector": "ding has no multi-agent battle workers",
    "BattleEpisodeSerialCollector": "ding has no multi-agent battle workers",
    "BattleInteractionSerialEvaluator": "ding has no multi-agent battle workers",
    "MetricSerialEvaluator": "evaluate with InteractionSerialEvaluator",
    "PrioritizedReplayBuffer": "use AdvancedReplayBuffer with policy.priority=True",
    "EpisodeReplayBuffer": "use AdvancedReplayBuffer",
    "BaseSerialCommander": "ding has no commander: the schedules (epsilon, ...) live in the policy",
    "create_buffer": "build AdvancedReplayBuffer(cfg.policy.other.replay_buffer)",
    "create_serial_collector": "build SampleSerialCollector(cfg.policy.collect.collector, env, policy.collect_mode)",
    "create_serial_evaluator": "build InteractionSerialEvaluator(cfg.policy.eval.evaluator, env, policy.eval_mode)",
}


def __getattr__(name: str) -> Any:
    if name in NOT_PROVIDED:
        raise ImportError(f"ding.worker.{name} (DI-engine) is not provided by ding: {NOT_PROVIDED[name]}")
    raise AttributeError(f"module 'ding.worker' has no attribute '{name}'")
