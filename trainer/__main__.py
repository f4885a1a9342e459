import sys

from dmt_tui.trainer.cli import main

sys.exit(main())
