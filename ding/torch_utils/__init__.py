from .data import to_list, to_ndarray, to_numpy, to_tensor, to_tensors
from .data_parallel import DataParallel
from .optimizer import build_adam, lr_schedule

__all__ = ["DataParallel", "build_adam", "lr_schedule", "to_list", "to_ndarray", "to_numpy", "to_tensor", "to_tensors"]
