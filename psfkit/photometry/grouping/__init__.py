"""
Grouping: which sources overlap enough to be fitted together
(`DAOGroup`, `DBSCANGroup`, and photutils 3.x's `SourceGrouper`), on
KD-tree clustering engines (``_clustering``); `SourceGroups` describes a
grouping.
"""

from . import groupers, source_groups
from .groupers import *  # noqa: F401,F403
from .source_groups import *  # noqa: F401,F403

__all__ = [*groupers.__all__, *source_groups.__all__]
