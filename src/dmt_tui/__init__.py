"""dmt-tui: train small PyTorch models and watch them learn in the terminal."""

__version__ = "0.1.0"
