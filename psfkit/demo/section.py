"""One section of the demo report: what was run, its numbers, its figures."""

from dataclasses import dataclass, field

__all__ = ["DemoSection"]


@dataclass
class DemoSection:
    """
    One section of the demo report.

    Attributes
    ----------
    title : str
        The section heading.
    summary : str
        One or two sentences on what was run.
    metrics : dict
        Key numbers, name to formatted value.
    figures : list of str
        Figure file names, relative to the output folder.
    seconds : float
        Wall-clock time of the section (filled in by `run_demo`).
    """

    title: str
    summary: str
    metrics: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)
    seconds: float = 0.0
