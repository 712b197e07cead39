from seal_engine.cli import entry

entry()
