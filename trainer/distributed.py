"""Data-parallel runs (`--nproc N`, or a user's own torchrun): which rank this is, the
process group, and the few collectives the loop needs. A single process is world size 1,
and every helper here is then a no-op, so the loop reads the same either way."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from dmt_tui.rundir import pid_alive
from dmt_tui.trainer.local_ranks import STORE_ENV

STORE_KEY = "dmt-tui/error/{rank}"  # where a failing rank leaves its error for rank 0
STOP_CHECK_STEPS = 32  # ranks agree on a stop request this often
DEATH_SEEN_S = 3.0  # after a failed collective, how long a dying peer gets to be seen dead


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


SINGLE = Ranks()


def from_env() -> Ranks:
    """The ranks the launcher (ours or torchrun) set in the environment, or a single
    process."""
    return Ranks(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")),
                 int(os.environ.get("LOCAL_RANK", "0")))


def init(ranks: Ranks, device: torch.device) -> None:
    """Join the process group: nccl between GPUs, gloo between CPU processes. Ranks that
    `--nproc` started meet at its FileStore (no listening socket); under a user's own
    torchrun they meet at its store, through the environment."""
    if ranks.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        store = os.environ.get(STORE_ENV)
        if store:
            dist.init_process_group(backend, init_method=f"file://{store}", rank=ranks.rank,
                                    world_size=ranks.world, timeout=timedelta(seconds=120))
        else:
            dist.init_process_group(backend, timeout=timedelta(seconds=120))


def close(finished_together: bool) -> None:
    """Leave the process group. Ranks that ended together first wait for each other: one
    tearing gloo down while a peer still talks to it can abort the process. After a
    failure a peer may be gone, so there is no waiting then."""
    if not dist.is_initialized():
        return
    if finished_together:
        try:
            dist.barrier()
        except RuntimeError:
            return  # a peer went away after all; exit without tearing down
    dist.destroy_process_group()


def all_sum(tensor: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """Sum a tensor over ranks, in place."""
    if ranks.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def share(rows: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """This rank's share of the rows: every world-th one from its rank on; all of them in a
    single process."""
    return rows[ranks.rank::ranks.world] if ranks.enabled else rows


def agree_to_stop(requested: bool, step: int, ranks: Ranks, device: torch.device) -> bool:
    """Whether to stop at this step. One process stops at once; ranks must stop at the same
    step, so they agree every STOP_CHECK_STEPS steps: a collective, and on CUDA a sync point."""
    if not ranks.enabled:
        return requested
    if step % STOP_CHECK_STEPS:
        return False
    flag = torch.tensor([1.0 if requested else 0.0], device=device)
    return bool(all_sum(flag, ranks).item() > 0)  # host read: it steers control flow


def broadcast_int(value: int, ranks: Ranks, device: torch.device) -> int:
    """Rank 0's value on every rank (rank 0 decides; the others follow)."""
    if not ranks.enabled:
        return value
    box = torch.tensor([value], dtype=torch.int64, device=device)
    dist.broadcast(box, src=0)
    return int(box.item())  # host read: the decision steers Python control flow


def broadcast_object(value: Any, ranks: Ranks) -> Any:
    if not ranks.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def describe_ranks(ranks: Ranks) -> list[dict[str, Any]]:
    """Every rank's pid and host, gathered once at the start (for `start` and for saying
    which rank died)."""
    me = {"rank": ranks.rank, "pid": os.getpid(), "host": socket.gethostname()}
    if not ranks.enabled:
        return [me]
    everyone: list[Any] = [None] * ranks.world
    dist.all_gather_object(everyone, me)
    return everyone


def report_error(ranks: Ranks, message: str) -> None:
    """A non-zero rank leaves its error in the rendezvous store (the launcher's FileStore,
    or torchrun's), which outlives it, so that rank 0 can name it in the run's `end`
    event."""
    if not ranks.enabled or ranks.main:
        return
    try:
        store = dist.distributed_c10d._get_default_store()
        store.set_timeout(timedelta(seconds=5))
        store.set(STORE_KEY.format(rank=ranks.rank), message[:2000])
    except Exception:  # noqa: BLE001 - the store may be gone with the launcher; exit anyway
        pass


def who_failed(ranks: Ranks, peers: list[dict[str, Any]]) -> str:
    """On rank 0, after a collective failed: which rank failed and why, as far as known."""
    errors = []
    try:
        store = dist.distributed_c10d._get_default_store()
        store.set_timeout(timedelta(seconds=3))
        for peer in peers[1:]:
            key = STORE_KEY.format(rank=peer["rank"])
            if store.check([key]):
                errors.append(f"rank {peer['rank']} failed: {store.get(key).decode()}")
    except Exception:  # noqa: BLE001 - the store is best effort; fall back to pids
        pass
    if errors:
        return "; ".join(errors)
    here = socket.gethostname()
    # A killed peer's sockets close while it is still exiting: give it a moment to be seen
    # gone (a zombie or reaped) before calling it merely silent.
    deadline = time.monotonic() + DEATH_SEEN_S
    while True:
        dead = [p for p in peers[1:] if p["host"] == here and not pid_alive(p["pid"])]
        if dead or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if dead:
        return "; ".join(f"rank {p['rank']} (pid {p['pid']}) died without reporting an error"
                         for p in dead)
    return "a rank stopped answering"

