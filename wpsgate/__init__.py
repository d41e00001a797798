"""wpsgate: an OGC WPS 1.0.0 gateway that runs processes on a local worker pool or an HPC scheduler.

Process authors import the process API from here::

    from wpsgate import Process, LiteralInput, LiteralOutput
"""
__version__ = "0.1.0"

from .process import *  # noqa: F401,F403  (the public process API)
from .process import __all__ as _process_all

__all__ = ["__version__", *_process_all]
