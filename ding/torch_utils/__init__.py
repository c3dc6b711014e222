from .data import to_numpy, to_tensor, to_tensors
from .data_parallel import DataParallel
from .optimizer import build_adam

__all__ = ["DataParallel", "build_adam", "to_numpy", "to_tensor", "to_tensors"]
