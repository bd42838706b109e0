"""planmap: map Spark physical-plan nodes to the lines of code that produced them, by
asking a ``planmap serve`` service.

    >>> import planmap
    >>> result = planmap.map_dataframe(df, repo="https://github.com/acme/etl")
    >>> result            # a table: node, operator, status, confidence, file:lines, symbol
    >>> result.summary    # the job's summary

The package is the standard library only; see :class:`Client` for the lower-level
calls (submit, status, wait, mappings).
"""

from .client import DEFAULT_SERVER, Client
from .errors import PlanmapError
from .mappings import Mappings
from .spark import formatted_plan, map_dataframe, map_plan

__version__ = "0.1.0"

__all__ = ["Client", "DEFAULT_SERVER", "Mappings", "PlanmapError", "formatted_plan", "map_dataframe", "map_plan", "__version__"]
