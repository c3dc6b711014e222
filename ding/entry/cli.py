"""The `ding` command: `ding -m serial -c cfg.py -s 0` (off-policy), `ding -m serial_onpolicy -c cfg.py -s 0` (PPO),
`ding -m eval -c cfg.py -s 0 --load-path CKPT`,
`ding plot RUN_DIR... -o curve.png` (learning curves, see ding/entry/plot.py).

Under a launcher that starts several processes (`torchrun --nproc_per_node=2 $(which ding) -m serial ...`, srun,
mpirun) the training modes run as the ranks of one DDP job (inside DistContext), never as independent runs; a config
without `policy.learn.multi_gpu=True` gets it turned on, with one warning line (ding.entry.run.match_world).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

from ding.entry.script import EXIT_CONFIG_ERROR, add_training_arguments, call_reporting_errors

MODES = ("serial", "serial_onpolicy", "eval")
__all__ = ["EXIT_CONFIG_ERROR", "MODES", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ding",
        description="ding: train and evaluate RL agents (DI-engine-compatible configs and command line).",
        epilog="ding plot RUN_DIR... -o curve.png: learning curves of runs (mean and band over seeds) as a PNG and "
        "a CSV; see ding plot --help.",
    )
    parser.add_argument(
        "-m",
        "--mode",
        choices=MODES,
        required=True,
        help="serial: train off-policy (DQN); serial_onpolicy: train on-policy (PPO); eval: evaluate a ckpt",
    )
    parser.add_argument("-c", "--config", required=True, help="config file defining main_config and create_config")
    add_training_arguments(parser)  # -s, --max-env-step/--env-step, --max-train-iter/--train-iter
    parser.add_argument("--load-path", default=None, help="checkpoint to evaluate (eval mode)")
    parser.add_argument("--replay-path", default=None, help="eval mode: write one MP4 per episode to this folder")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the experiment exp_name from its ckpt/latest.pth.tar (same as policy.learn.resume_training)",
    )
    parser.add_argument("-v", "--version", action="version", version=f"%(prog)s {_version()}")
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("ding")
    except Exception:
        return "(not installed)"


def main(argv: Optional[Sequence[str]] = None) -> int:
    # before the heavy imports: a SIGTERM/SIGUSR1 during start-up is kept and answered with a checkpoint
    from ding.utils.preemption import PreemptionHandler

    with PreemptionHandler():
        return _main(argv)


def _main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "plot":
        from ding.entry.plot import main as plot_main

        return plot_main(argv[1:])
    args = build_parser().parse_args(argv)
    return call_reporting_errors(_run, args)


def _run(args: argparse.Namespace) -> None:
    from ding.config import ConfigError
    from ding.utils.dist import DistContext, detect_launcher

    launch = detect_launcher()  # a half-set launcher environment is an error here, before anything starts
    if args.mode == "eval":
        if launch.world_size > 1:
            raise ConfigError(
                f"ding -m eval evaluates in one process, but {launch.launcher} started {launch.world_size}: "
                f"run it without the launcher"
            )
        from ding.entry import eval as eval_entry

        eval_entry(args.config, seed=args.seed, load_path=args.load_path, replay_path=args.replay_path)
        return
    if args.load_path:
        raise ConfigError(
            "--load-path is for -m eval; to start training from a checkpoint set "
            "policy.learn.learner.hook.load_ckpt_before_run"
        )
    from ding.entry import serial_pipeline, serial_pipeline_onpolicy

    pipeline = serial_pipeline if args.mode == "serial" else serial_pipeline_onpolicy
    with DistContext():  # several processes: the ranks of one job; one process: nothing to start
        pipeline(
            args.config,
            seed=args.seed,
            max_env_step=args.max_env_step,
            max_train_iter=args.max_train_iter,
            resume=args.resume,
        )


if __name__ == "__main__":
    sys.exit(main())
