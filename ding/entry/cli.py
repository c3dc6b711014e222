"""The `ding` command: `ding -m serial -c cfg.py -s 0` (off-policy), `ding -m serial_onpolicy -c cfg.py -s 0` (PPO),
`ding -m eval -c cfg.py -s 0 --load-path CKPT`,
`ding plot RUN_DIR... -o curve.png` (learning curves, see ding/entry/plot.py).

DI-engine's command line works as written: `-s` repeated trains the seeds one after the other, each in
`<--exp-name or the config file's name>_result/seed<N>/`; `--exp-name` names the experiment folder; `-e ENV -p
POLICY` instead of `-c` takes the shipped config `dizoo/**/<env>_<policy>_config.py` (`-e cartpole -p dqn`).

Under a launcher that starts several processes (`torchrun --nproc_per_node=2 $(which ding) -m serial ...`, srun,
mpirun) the training modes run as the ranks of one DDP job (inside DistContext), never as independent runs; a config
without `policy.learn.multi_gpu=True` gets it turned on, with one warning line (ding.entry.run.match_world).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from collections.abc import Sequence
from typing import Optional

from ding.entry.script import EXIT_CONFIG_ERROR, add_training_arguments, call_reporting_errors

MODES = ("serial", "serial_onpolicy", "eval")
REGISTRIES = {  # DI-engine's -q names -> ding.utils.registry's
    "policy": "POLICY_REGISTRY",
    "model": "MODEL_REGISTRY",
    "env": "ENV_REGISTRY",
    "env_manager": "ENV_MANAGER_REGISTRY",
    "buffer": "BUFFER_REGISTRY",
}
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
        default=None,
        help="serial: train off-policy (DQN); serial_onpolicy: train on-policy (PPO); eval: evaluate a ckpt",
    )
    parser.add_argument(
        "-q",
        "--query-registry",
        choices=sorted(REGISTRIES),
        default=None,
        metavar="REGISTRY",
        help=f"list the types registered in a registry ({', '.join(sorted(REGISTRIES))}), where each is defined",
    )
    parser.add_argument(
        "-c", "--config", default=None, help="config file defining main_config and create_config (or -e and -p)"
    )
    parser.add_argument("-e", "--env", default=None, help="with -p instead of -c: the shipped config of that env")
    parser.add_argument(
        "-p",
        "--policy",
        default=None,
        help="with -e: the shipped dizoo/**/<env>_<policy>_config.py (e.g. cartpole, dqn)",
    )
    parser.add_argument("--exp-name", default=None, help="the experiment folder, instead of the config's exp_name")
    add_training_arguments(parser, several_seeds=True)  # -s (repeatable), --max-env-step/--env-step, ...
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.query_registry is not None:
        try:
            print(query_registry(args.query_registry), flush=True)
        except BrokenPipeError:  # `ding -q env | head`: the reader left; no traceback
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if args.mode is None:
        parser.error("the following arguments are required: -m/--mode (or -q REGISTRY to list a registry)")
    return call_reporting_errors(_run, args)


def query_registry(kind: str) -> str:
    """DI-engine's ``ding -q <registry>``: the registered names, each with the file and line that defines it (the
    env types of every dizoo env module, imported for the listing)."""
    import importlib
    import inspect

    import dizoo
    from ding.utils import registry as registries

    if kind == "env":  # dizoo's env types register when their module is imported (create_config's import_names)
        root = os.path.dirname(os.path.abspath(dizoo.__file__))
        for path in sorted(glob.glob(os.path.join(root, "**", "envs", "*_env.py"), recursive=True)):
            module = "dizoo." + os.path.relpath(path, root)[: -len(".py")].replace(os.sep, ".")
            try:
                importlib.import_module(module)
            except ImportError:  # an optional extra (Box2D, MuJoCo) not installed: its types are not listed
                continue
    registry = getattr(registries, REGISTRIES[kind])
    lines = [f"Available {kind}: [{'|'.join(registry.names())}]"]
    for name in registry.names():
        obj = registry.get(name)
        try:  # the file relative to the folder its top-level package is in (ding/..., dizoo/...)
            package = importlib.import_module(obj.__module__.split(".")[0])
            top = os.path.dirname(os.path.dirname(os.path.abspath(package.__file__)))
            where = f"{os.path.relpath(inspect.getsourcefile(obj), top)}#{inspect.getsourcelines(obj)[1]}"
        except (TypeError, OSError, AttributeError):
            where = getattr(obj, "__module__", "?")
        lines.append(f"\t{name}: registered at {where}")
    return "\n".join(lines)


def shipped_config(env: str, policy: str) -> str:
    """The path of the shipped config ``dizoo/**/<env>_<policy>_config.py`` (DI-engine's ``-e ENV -p POLICY``).

    :raises ConfigError: none, or several, with the policies that env has."""
    import dizoo
    from ding.config import ConfigError

    root = os.path.dirname(os.path.abspath(dizoo.__file__))
    found = sorted(glob.glob(os.path.join(root, "**", f"{env}_{policy}_config.py"), recursive=True))
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(os.path.relpath(f, root) for f in found)
        raise ConfigError(f"-e {env} -p {policy}: several shipped configs match ({names}); give one with -c")
    policies = sorted(
        {
            os.path.basename(f)[len(env) + 1 : -len("_config.py")]
            for f in glob.glob(os.path.join(root, "**", f"{env}_*_config.py"), recursive=True)
        }
    )
    hint = f"shipped for '{env}': {', '.join(policies)}" if policies else f"no shipped config is for env '{env}'"
    raise ConfigError(f"-e {env} -p {policy}: no shipped config {env}_{policy}_config.py ({hint}); or give one with -c")


def _config_path(args: argparse.Namespace) -> str:
    from ding.config import ConfigError

    if args.config is not None:
        if args.env is not None or args.policy is not None:
            raise ConfigError("give a config file with -c, or a shipped config with -e ENV -p POLICY, not both")
        return args.config
    if args.env is None or args.policy is None:
        raise ConfigError(
            "no config: give a config file with -c (ding -m serial -c cfg.py -s 0), or a shipped one with "
            "-e ENV -p POLICY (ding -m serial -e cartpole -p dqn -s 0)"
        )
    return shipped_config(args.env, args.policy)


def _run(args: argparse.Namespace) -> None:
    from ding.config import ConfigError
    from ding.utils.dist import detect_launcher

    launch = detect_launcher()  # a half-set launcher environment is an error here, before anything starts
    config = _config_path(args)
    seeds = args.seed or [0]
    if len(seeds) == 1:
        _run_seed(args, config, seeds[0], launch)
        return
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise ConfigError(f"-s {repeated[0]} given twice: give each seed once")
    if launch.world_size > 1:
        raise ConfigError(
            f"several seeds ({', '.join(map(str, seeds))}) under {launch.launcher}: the processes of a launch are the "
            f"ranks of one run; launch one seed per job"
        )
    # DI-engine's layout for several seeds: each runs in <root>/seed<N>/, one after the other
    root = os.path.abspath(args.exp_name or os.path.splitext(os.path.basename(config))[0] + "_result")
    config = os.path.abspath(config)
    start = os.getcwd()
    for seed in seeds:
        folder = os.path.join(root, f"seed{seed}")
        os.makedirs(folder, exist_ok=True)
        print(f"[ding] seed {seed} ({seeds.index(seed) + 1} of {len(seeds)}) in {folder}", flush=True)
        os.chdir(folder)
        try:
            _run_seed(args, config, seed, launch)
        finally:
            os.chdir(start)


def _run_seed(args: argparse.Namespace, config: str, seed: int, launch) -> None:
    from ding.config import ConfigError
    from ding.utils.dist import DistContext

    if args.exp_name is not None:  # DI-engine's --exp-name: the experiment folder, whatever the file says
        from ding.config.config import read_config

        main_config, create_config = read_config(config)
        main_config.exp_name = args.exp_name
        config = (main_config, create_config)
    if args.mode == "eval":
        if launch.world_size > 1:
            raise ConfigError(
                f"ding -m eval evaluates in one process, but {launch.launcher} started {launch.world_size}: "
                f"run it without the launcher"
            )
        from ding.entry import eval as eval_entry

        eval_entry(config, seed=seed, load_path=args.load_path, replay_path=args.replay_path)
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
            config,
            seed=seed,
            max_env_step=args.max_env_step,
            max_train_iter=args.max_train_iter,
            resume=args.resume,
        )


if __name__ == "__main__":
    sys.exit(main())
