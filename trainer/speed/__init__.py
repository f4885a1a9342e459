"""The speed machinery: ways of running the same training step faster, kept apart from the
training loop so that the loop reads like the course's.

- `flat`: every parameter a view into one buffer, every gradient gathered into another
  (one process): the optimizer and the gradient norms touch one tensor, not one per layer.
- `graphs`: a step captured once in a CUDA graph and replayed by one launch.
- `syncs`: a count of the calls that synchronise host and device, for tests and benches.

`trainer.steps` decides once, per run, which of them a step uses. Nothing here imports the
loop or the steps. The rules here were taught by `bench/throughput.py` (epochs/s, overhead
and syncs per epoch); its figures are in the README's benchmark section.
"""
