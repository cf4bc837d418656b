"""The implementations of the ``psfkit`` subcommands, one module each."""
