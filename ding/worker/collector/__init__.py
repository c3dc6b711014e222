from .sample_serial_collector import SampleSerialCollector, random_actions

__all__ = ["SampleSerialCollector", "random_actions"]
