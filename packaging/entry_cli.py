"""PyInstaller entry for the `seal` executable (the command line)."""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()  # first thing, as in the desktop entry
    from seal_engine.cli import entry

    entry()
