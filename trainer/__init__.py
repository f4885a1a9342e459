"""The headless engine (`dmt_tui.trainer`): data (D), models and optimizers (M), the loop (T).

It imports torch and never Textual; it writes runs through `dmt_tui.rundir` and reads presets
through `dmt_tui.presets`, the torch-free foundations that the app stands on too.
"""
