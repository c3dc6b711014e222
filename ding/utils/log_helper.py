"""Text and TensorBoard logging under <exp_name>/log/, written by rank 0 only.

On an interactive terminal a single status line is redrawn in place; in a non-interactive log (CI, Slurm output
files) only plain lines are written, so logs are not flooded with progress updates.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from typing import Any, Optional

from ding.utils.dist import is_main_process


def _scalar(value: Any) -> float:
    return float(value.item()) if hasattr(value, "item") else float(value)


class Logger:
    """Lines to stdout and ``<exp_name>/log/<name>.log``; scalars to TensorBoard event files in ``<exp_name>/log/``.

    :param exp_name: the experiment folder; None writes to stdout only.
    :param name: base name of the text log file.
    :param enabled: write anything at all (False on ranks other than 0).
    :param tensorboard: also write TensorBoard scalars.
    :param writer: a SummaryWriter of the user's (tensorboardX's or torch's) to write scalars to, instead of one of
        its own (DI-engine's ``tb_logger``); it is flushed, not closed, by :meth:`close`.
    """

    def __init__(
        self,
        exp_name: Optional[str],
        name: str = "train",
        enabled: Optional[bool] = None,
        tensorboard: bool = True,
        writer: Any = None,
    ) -> None:
        self.enabled = is_main_process() if enabled is None else enabled
        self.log_dir = os.path.join(exp_name, "log") if exp_name is not None else None
        self._file = None
        self._writer = None
        self._user_writer = writer if self.enabled else None
        self._interactive = sys.stdout.isatty()
        self._status_shown = False
        self._last_status = 0.0
        if not self.enabled or self.log_dir is None:
            return
        os.makedirs(self.log_dir, exist_ok=True)
        self._file = open(os.path.join(self.log_dir, f"{name}.log"), "a", encoding="utf-8", buffering=1)
        if tensorboard and writer is None:
            from torch.utils.tensorboard import SummaryWriter  # paid only by runs that log

            self._writer = SummaryWriter(self.log_dir, max_queue=1000, flush_secs=10)

    def info(self, message: str) -> None:
        """A plain line, to stdout and the text log."""
        if not self.enabled:
            return
        if self._status_shown:
            sys.stdout.write("\r\033[K")
            self._status_shown = False
        print(message, flush=True)
        if self._file is not None:
            self._file.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {message}\n")

    def warning(self, message: str) -> None:
        """One line ``ding: warning: <message>`` to stderr (where it is seen beside the progress on stdout), and to
        the text log."""
        if not self.enabled:
            return
        if self._status_shown:
            sys.stdout.write("\r\033[K")
            sys.stdout.flush()
            self._status_shown = False
        print(f"ding: warning: {message}", file=sys.stderr, flush=True)
        if self._file is not None:
            self._file.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] warning: {message}\n")

    def status(self, message: str, min_interval: float = 0.25) -> None:
        """A progress line redrawn in place on a terminal; nothing in a non-interactive log."""
        if not (self.enabled and self._interactive):
            return
        now = time.monotonic()
        if now - self._last_status < min_interval:
            return
        self._last_status = now
        sys.stdout.write("\r\033[K" + message)
        sys.stdout.flush()
        self._status_shown = True

    def scalars(self, prefix: str, values: dict[str, Any], step: int) -> None:
        """TensorBoard scalars ``<prefix>/<key>`` at x = ``step``, written as one event (one record and checksum
        for all of them: tensorboard computes its CRC32C in pure Python, ~20 us per record)."""
        if self._user_writer is not None:
            for key, value in values.items():
                self._user_writer.add_scalar(f"{prefix}/{key}", _scalar(value), step)
            return
        if self._writer is None or not values:
            return
        from tensorboard.compat.proto.summary_pb2 import Summary

        summary = Summary(
            value=[Summary.Value(tag=f"{prefix}/{key}", simple_value=_scalar(value)) for key, value in values.items()]
        )
        self._writer._get_file_writer().add_summary(summary, step)

    def video(self, tag: str, frames: Iterable, step: int, fps: float = 30.0, every: int = 1) -> None:
        """An episode's RGB frames (every ``every``-th) as an animated image in TensorBoard (its Images tab), in
        this logger's event file or the user's SummaryWriter (torch's or tensorboardX's)."""
        writer = self._user_writer if self._user_writer is not None else self._writer
        if writer is None:
            return
        if type(writer).__module__.startswith("tensorboardX"):
            from tensorboardX.proto.summary_pb2 import Summary
        else:
            from tensorboard.compat.proto.summary_pb2 import Summary

        from ding.utils.video import gif_bytes

        encoded, height, width = gif_bytes(frames, fps, every=every)
        image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=encoded)
        writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()
        if self._user_writer is not None:
            self._user_writer.flush()

    def close(self) -> None:
        if self._status_shown:
            sys.stdout.write("\n")
            self._status_shown = False
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._user_writer is not None:
            self._user_writer.flush()
            self._user_writer = None
        if self._file is not None:
            self._file.close()
            self._file = None


def component_logger(tb_logger: Any, exp_name: Optional[str], instance_name: str) -> Logger:
    """The logger of a worker built by DI-engine's call form (``tb_logger``: a SummaryWriter or None): lines to
    stdout and ``<exp_name>/log/<instance_name>.log``, scalars to ``tb_logger``, on rank 0 only. A ding
    :class:`Logger` passed as ``tb_logger`` (the pipelines' form) is returned as it is."""
    if isinstance(tb_logger, Logger):
        return tb_logger
    if tb_logger is not None and not hasattr(tb_logger, "add_scalar"):
        raise TypeError(
            f"tb_logger must be a SummaryWriter (tensorboardX or torch.utils.tensorboard) or None, got "
            f"{type(tb_logger).__name__}"
        )
    return Logger(exp_name, name=instance_name, tensorboard=False, writer=tb_logger)


def format_stats(values: dict[str, Any]) -> str:
    """``key=value`` pairs with 4 significant digits, for log lines."""
    return " ".join(f"{key}={_scalar(value):.4g}" for key, value in values.items())
