"""The run summary: what a finished run reached and where its files are, printed and saved as summary.json.

``serial_pipeline`` calls, on rank 0 after the final evaluation::

    summary = build_summary(cfg, learner, collector, evaluator, reason, start, world_size=world_size)
    logger.info(format_summary(summary))
    write_summary(cfg.exp_name, summary)
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any, Optional

SUMMARY_FILE = "summary.json"


def _finite(value: Any) -> Optional[float]:
    """A float for JSON, or None for a missing or non-finite value (JSON has no NaN or inf)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _eval_point(result: Optional[dict]) -> Optional[dict[str, Any]]:
    """The return of one evaluation and where it happened, from an evaluator result dict."""
    if not result or "episode_return_mean" not in result:
        return None
    return {
        "episode_return_mean": _finite(result["episode_return_mean"]),
        "envstep": result.get("envstep"),
        "train_iter": result.get("train_iter"),
    }


def _existing(path: str) -> Optional[str]:
    return path if os.path.exists(path) else None


def build_summary(
    cfg: Any,
    learner: Any,
    collector: Any,
    evaluator: Any,
    stop_reason: str,
    start_time: float,
    world_size: int = 1,
    start_envstep: int = 0,
    final_ckpt: Optional[str] = None,
    end_time: Optional[float] = None,
) -> dict[str, Any]:
    """The summary of a run as a JSON-ready dict.

    :param cfg: the compiled config (``exp_name``, ``seed``, ``env.stop_value`` are read).
    :param learner: the BaseLearner (``train_iter``, ``ckpt_dir``).
    :param collector: the collector (``envstep``: env steps of all ranks together).
    :param evaluator: the evaluator (``last_result``, ``best_result``); None where no evaluator ran.
    :param stop_reason: why training ended (``_train_loop``'s reason, e.g. ``"stop value reached"``).
    :param start_time: ``time.perf_counter()`` when the run started.
    :param world_size: number of ranks that trained.
    :param start_envstep: env steps already done when this run started (a resumed run's checkpoint), so that
        ``env_steps_per_sec`` counts only this run's steps.
    :param final_ckpt: path of the final checkpoint (``learner.after_run()``); default: ``ckpt/final.pth.tar`` if
        it exists.
    :param end_time: ``time.perf_counter()`` at the end (default: now).
    :return: ``exp_name, stop_reason, seed, world_size, env_steps, train_iterations, wall_time_sec,
        env_steps_per_sec, stop_value, final_eval, best_eval`` (each ``{episode_return_mean, envstep, train_iter}``
        or None), ``checkpoints`` (``best``, ``final``: paths or None) and ``logs`` (``text``, ``tensorboard``).
        Paths are as the run saw them (relative to its working directory when ``exp_name`` is).
    """
    end_time = time.perf_counter() if end_time is None else end_time
    wall_time = max(end_time - start_time, 0.0)
    exp_name = cfg.exp_name
    env_steps = int(collector.envstep)
    ckpt_dir = getattr(learner, "ckpt_dir", os.path.join(exp_name, "ckpt"))
    log_dir = os.path.join(exp_name, "log")
    last_result = getattr(evaluator, "last_result", None)
    best_result = getattr(evaluator, "best_result", None)
    stop_value = cfg.env.get("stop_value") if "env" in cfg else None
    return {
        "exp_name": exp_name,
        "stop_reason": stop_reason,
        "seed": cfg.get("seed"),
        "world_size": int(world_size),
        "env_steps": env_steps,
        "train_iterations": int(learner.train_iter),
        "wall_time_sec": round(wall_time, 3),
        "env_steps_per_sec": round((env_steps - start_envstep) / wall_time, 1) if wall_time > 0 else None,
        "stop_value": _finite(stop_value),
        "final_eval": _eval_point(last_result),
        "best_eval": _eval_point(best_result),
        "checkpoints": {
            "best": _existing(os.path.join(ckpt_dir, "ckpt_best.pth.tar")),
            "final": final_ckpt or _existing(os.path.join(ckpt_dir, "final.pth.tar")),
        },
        "logs": {
            "text": _existing(os.path.join(log_dir, "train.log")),
            "tensorboard": log_dir if os.path.isdir(log_dir) else None,
        },
    }


def write_summary(exp_name: str, summary: dict[str, Any]) -> str:
    """Write ``<exp_name>/summary.json`` atomically (a temporary file renamed over it); returns its path.

    Call it on rank 0 only: the experiment folder is rank 0's.
    """
    os.makedirs(exp_name, exist_ok=True)
    path = os.path.join(exp_name, SUMMARY_FILE)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _return_at(point: Optional[dict[str, Any]]) -> str:
    if point is None or point["episode_return_mean"] is None:
        return "none"
    return f"{point['episode_return_mean']:.2f} (env step {point['envstep']}, train iter {point['train_iter']})"


# the folder the user ran the command in, when a run works in another (``ding -s 0 -s 1``: each seed in its own
# folder): the printed paths are then relative to it, so they work where the user is (summary.json keeps its own)
SHOWN_FROM: Optional[str] = None


def _shown(path: Optional[str]) -> Optional[str]:
    if not path or SHOWN_FROM is None:
        return path
    return os.path.relpath(os.path.abspath(path), SHOWN_FROM)


def format_summary(summary: dict[str, Any]) -> str:
    """A few lines for the end of the run's log: returns, counts, speed, where the files are."""
    rate = summary["env_steps_per_sec"]
    stop = "" if summary["stop_value"] is None else f"; stop value {summary['stop_value']:g}"
    ckpt = {key: _shown(value) for key, value in summary["checkpoints"].items()}
    logs = {key: _shown(value) for key, value in summary["logs"].items()}
    lines = [
        f"[ding] finished ({summary['stop_reason']}): {summary['exp_name']}, seed {summary['seed']}, "
        f"world size {summary['world_size']}",
        f"  eval return   final {_return_at(summary['final_eval'])}",
        f"                best  {_return_at(summary['best_eval'])}{stop}",
        f"  progress      {summary['env_steps']} env steps, {summary['train_iterations']} train iterations, "
        f"{summary['wall_time_sec']:.1f} s wall, {'-' if rate is None else f'{rate:.1f}'} env steps/s over the run "
        f"(set-up and final evaluation included)",
        f"  checkpoints   best {ckpt['best'] or '(none)'}, final {ckpt['final'] or '(none)'}",
        f"  logs          {logs['text'] or '(none)'}; "
        + (f"tensorboard --logdir {logs['tensorboard']}" if logs["tensorboard"] else "no TensorBoard log"),
        f"  summary       {_shown(os.path.join(summary['exp_name'], SUMMARY_FILE))}",
    ]
    return "\n".join(lines)
