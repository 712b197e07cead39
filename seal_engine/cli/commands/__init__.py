"""One module per `seal` subcommand (discovered automatically; see `seal_engine.cli`)."""
