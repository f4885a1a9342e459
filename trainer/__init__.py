"""The headless engine: config, data, models, optimizers, the loop and the run directory.

Nothing here imports Textual; `config`, `rundir`, `record` and `data` do not import torch
either, so the app can use them.
"""
