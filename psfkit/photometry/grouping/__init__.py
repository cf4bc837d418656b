"""
Grouping: which sources overlap enough to be fitted together
(`DAOGroup`, `DBSCANGroup`), on KD-tree clustering engines (``_clustering``).
"""

from . import groupers
from .groupers import *  # noqa: F401,F403

__all__ = list(groupers.__all__)
