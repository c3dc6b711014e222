"""2-process torch.distributed (gloo) smoke check under srun or mpirun.

Run once per rank by a launcher, e.g.
    srun -n2 --ntasks-per-node=2 python .ci/check_launchers.py
    mpirun --allow-run-as-root -np 2 python .ci/check_launchers.py
Rank / world size come from the launcher's variables (OpenMPI's OMPI_COMM_WORLD_* win over SLURM_*,
because ranks started by mpirun inside a Slurm allocation still carry SLURM_* of the surrounding step).
MASTER_ADDR defaults to the first host of SLURM_JOB_NODELIST (Slurm) or 127.0.0.1; MASTER_PORT
should be set by the caller (`python .ci/check_launchers.py --free-port` prints a free one); under
Slurm without it a port is derived from SLURM_JOB_ID.

Also: `--free-port` prints a free TCP port; `--first-host NODELIST` prints the first host of a
Slurm nodelist such as `node[01-03,7],gpu1`.
"""

import datetime
import os
import re
import socket
import sys


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_host(nodelist: str) -> str:
    """First host of a Slurm hostlist: 'vm' -> 'vm', 'node[01-03,7],gpu1' -> 'node01'."""
    m = re.match(r"([^,\[]*)(?:\[([^\]]*)\])?", nodelist.strip())
    prefix, ranges = m.group(1), m.group(2)
    if ranges is None:
        return prefix
    return prefix + re.split(r"[-,]", ranges, maxsplit=1)[0]


def launcher_info() -> dict:
    e = os.environ
    if "OMPI_COMM_WORLD_RANK" in e:
        return dict(
            launcher="mpirun",
            rank=int(e["OMPI_COMM_WORLD_RANK"]),
            local_rank=int(e["OMPI_COMM_WORLD_LOCAL_RANK"]),
            world_size=int(e["OMPI_COMM_WORLD_SIZE"]),
            master_addr=e.get("MASTER_ADDR", "127.0.0.1"),
            master_port=int(e.get("MASTER_PORT", "29500")),
        )
    if "SLURM_PROCID" in e:
        nodelist = e.get("SLURM_STEP_NODELIST") or e["SLURM_JOB_NODELIST"]
        return dict(
            launcher="srun",
            rank=int(e["SLURM_PROCID"]),
            local_rank=int(e["SLURM_LOCALID"]),
            world_size=int(e["SLURM_NTASKS"]),
            master_addr=e.get("MASTER_ADDR") or first_host(nodelist),
            master_port=int(e.get("MASTER_PORT") or 15000 + int(e["SLURM_JOB_ID"]) % 20000),
        )
    raise SystemExit("check_launchers: no OMPI_COMM_WORLD_RANK or SLURM_PROCID; run me under mpirun or srun")


def main() -> int:
    if sys.argv[1:] == ["--free-port"]:
        print(free_port())
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--first-host":
        print(first_host(sys.argv[2]))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    info = launcher_info()
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://{info['master_addr']}:{info['master_port']}",
        rank=info["rank"],
        world_size=info["world_size"],
        timeout=datetime.timedelta(seconds=60),
    )
    t = torch.tensor([float(info["rank"] + 1)])
    dist.all_reduce(t)
    expected = info["world_size"] * (info["world_size"] + 1) / 2
    dist.destroy_process_group()
    ok = t.item() == expected
    # one write per line, so that ranks' lines relayed by the launcher do not interleave
    sys.stdout.write(
        f"[check_launchers] {info['launcher']} rank={info['rank']} local_rank={info['local_rank']} "
        f"world_size={info['world_size']} master={info['master_addr']}:{info['master_port']} "
        f"all_reduce={t.item():g} expected={expected:g} {'OK' if ok else 'MISMATCH'}\n"
    )
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
