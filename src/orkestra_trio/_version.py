"""The package version, alone in a module so that any layer may read it.

The package's ``__init__`` is the public façade over the runtime (the top
layer); ``deploy`` names its image after the version without importing that.
"""

__version__ = "0.1.0"
