from .rollout_collector import RolloutCollector
from .sample_serial_collector import SampleSerialCollector, random_actions

__all__ = ["RolloutCollector", "SampleSerialCollector", "random_actions"]
