"""
The report: run the sections, time them, write ``report.html``.
"""

from dataclasses import dataclass, field
import html
from pathlib import Path
import time

from ..version import __version__

__all__ = ["DemoSection", "run_demo", "write_report"]

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


def write_report(outdir, sections, quick):
    parts = [
        "<!DOCTYPE html>",
        "<html><head><meta charset='utf-8'><title>psfkit demo</title>",
        "<style>body{font-family:sans-serif;max-width:980px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;"
        "padding:3px 8px;text-align:left}img{max-width:100%}</style>",
        "</head><body>",
        f"<h1>psfkit {html.escape(__version__)} demo</h1>",
        f"<p>Mode: {'quick' if quick else 'full'}. Every number below was "
        "measured on simulated data with known truth.</p>",
    ]
    for sec in sections:
        parts.append(f"<h2>{html.escape(sec.title)}</h2>")
        parts.append(f"<p>{html.escape(sec.summary)}</p>")
        rows = dict(sec.metrics)
        rows["time (s)"] = f"{sec.seconds:.2f}"
        parts.append("<table>")
        for key, value in rows.items():
            parts.append(f"<tr><th>{html.escape(str(key))}</th>"
                         f"<td>{html.escape(str(value))}</td></tr>")
        parts.append("</table>")
        for fig in sec.figures:
            parts.append(f"<p><img src='{html.escape(fig)}' "
                         f"alt='{html.escape(fig)}'></p>")
    parts.append("</body></html>")
    path = Path(outdir) / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def run_demo(outdir="psfkit-demo", *, quick=False, log=print):
    """
    Run every demo section and write ``report.html`` into ``outdir``.

    Parameters
    ----------
    outdir : str or `~pathlib.Path`, optional
        The output folder (created if needed).
    quick : bool, optional
        Smaller simulations, for a smoke test.
    log : callable or None, optional
        Called with one line of progress per section; `None` for silence.

    Returns
    -------
    report : `~pathlib.Path`
        The path of ``report.html``.
    """
    import matplotlib

    matplotlib.use("Agg")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sections = []
    from . import DEMO_SECTIONS

    for module in DEMO_SECTIONS:
        t0 = time.perf_counter()
        section = module.demo(outdir, quick=quick)
        section.seconds = time.perf_counter() - t0
        sections.append(section)
        if log is not None:
            log(f"{section.title}: done in {section.seconds:.2f} s")
    report = write_report(outdir, sections, quick)
    if log is not None:
        log(f"report written to {report}")
    return report
