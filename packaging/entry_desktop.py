"""PyInstaller entry for the `seal-desktop` executable (the GUI; `--self-test` runs headless)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # first thing: a frozen child process must not start the app again
    from seal_desktop.app import main

    sys.exit(main())
