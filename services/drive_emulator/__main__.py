"""``python -m services.drive_emulator``: the same as ``fileserver drive emulator``."""

import sys

from services.drive.cli import drive_app

drive_app(["emulator", *sys.argv[1:]], prog_name="python -m services.drive_emulator")
