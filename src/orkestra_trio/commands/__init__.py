"""Sub-commands of the command line, one module each (see :mod:`orkestra_trio.cli`)."""
