"""The Textual app of dmt-tui: it tails run directories and never imports torch."""
