"""The hot loop talks to the host once an epoch: on CUDA every read of a device value (and
every copy of host data to the device) waits for the GPU, so the count is the count of
synchronisations (trainer.speed.syncs counts them, on any device)."""

from __future__ import annotations

from typing import Any

from dmt_tui.presets import load_preset
from dmt_tui.trainer import loop
from dmt_tui.trainer.host import Silent, StopRequest
from dmt_tui.trainer.speed.syncs import CountSyncs


def test_an_epoch_reads_the_device_once(monkeypatch: Any) -> None:
    config = load_preset("xor-adam", ["data.n_samples=400", "train.device=cpu"])
    trainer = loop.Trainer(loop.prepare(config), Silent(), StopRequest())
    trainer.epoch(1)  # the first epoch's norms are read with it: the rest wait
    # epochs 2-6 hold their norms on the device; epoch 7 reads them with its own
    for every_s, epochs, read in ((1e9, range(2, 7), 0), (0.0, range(7, 12), 10),
                                  (1e9, range(12, 15), 0)):
        monkeypatch.setattr(loop, "GRAD_EVENTS_EVERY_S", every_s)
        with CountSyncs() as syncs:
            results = [trainer.epoch(n) for n in epochs]
        assert syncs.calls == {"cpu": len(epochs)}  # one read an epoch, norms or not
        assert [n for r in results for n, _ in r.grads] == list(range(12 - read, 12))
    with CountSyncs() as syncs:  # the run's end: one more read for the epochs still held
        left = trainer.take_grads()
    assert syncs.calls == {"cpu": 1} and [n for n, _ in left] == [12, 13, 14]


def test_the_count_sees_a_number_written_into_a_tensor() -> None:
    import torch

    t = torch.zeros(4)
    with CountSyncs() as syncs:
        t[0] = 1.0  # on CUDA: 1.0 becomes a CPU tensor, copied over with a blocking copy
        t[1:2].fill_(2.0)  # the number travels in the kernel's arguments: no copy
        t[2] = torch.ones(())  # a tensor on the same device: no copy
        float(t[3])  # a read
    assert syncs.calls == {"__setitem__": 1, "__float__": 1}
    assert t.tolist() == [1.0, 2.0, 1.0, 0.0]
