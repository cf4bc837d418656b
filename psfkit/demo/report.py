"""
The report: run the sections, time them, write ``report.html``.
"""

import html
import os
from pathlib import Path
import shutil
import tempfile
import time

from ..version import __version__
from . import detection, diffim, epsf, fitpsf, modelsets, photometry, stars

__all__ = ["DEMO_SECTIONS", "run_demo", "write_report"]

#: The section modules, in report order.
DEMO_SECTIONS = (stars, detection, epsf, photometry, modelsets, diffim, fitpsf)

def write_report(outdir, sections, quick):
    """Write ``report.html`` of the ``sections`` (`DemoSection`) into ``outdir``."""
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


def _check_outdir(outdir, overwrite):
    if outdir.exists() and not outdir.is_dir():
        msg = f"{outdir}: exists and is not a folder"
        raise FileExistsError(msg)
    if outdir.exists() and any(outdir.iterdir()) and not overwrite:
        msg = (f"{outdir}: the folder is not empty (a previous report?); "
               "use --overwrite (overwrite=True) to replace the report")
        raise FileExistsError(msg)


def run_demo(outdir="psfkit-demo", *, quick=False, log=print, overwrite=False,
             sections=None):
    """
    Run every demo section and write ``report.html`` into ``outdir``.

    The report is made in a temporary folder beside ``outdir`` and moved
    into place only when every section has run, so a failed or interrupted
    run leaves any earlier report as it was.

    Parameters
    ----------
    outdir : str or `~pathlib.Path`, optional
        The output folder: a new or empty folder, unless ``overwrite``.
    quick : bool, optional
        Smaller simulations, for a smoke test.
    log : callable or None, optional
        Called with one line of progress per section; `None` for silence.
    overwrite : bool, optional
        Whether to write into a folder that already holds files: files of
        the report's names are replaced, other files are left alone.
    sections : sequence of module, optional
        The sections to run, each a module with a function
        ``demo(outdir, *, quick) -> DemoSection`` (default: `DEMO_SECTIONS`).

    Returns
    -------
    report : `~pathlib.Path`
        The path of ``report.html``.

    Raises
    ------
    FileExistsError
        If ``outdir`` holds files and ``overwrite`` is `False`, or is a file.
    """
    import matplotlib

    matplotlib.use("Agg")
    outdir = Path(outdir)
    _check_outdir(outdir, overwrite)
    created = not outdir.exists()
    outdir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".psfkit-demo-", dir=outdir))
    done = False
    try:
        done_sections = []
        for module in DEMO_SECTIONS if sections is None else sections:
            t0 = time.perf_counter()
            section = module.demo(staging, quick=quick)
            section.seconds = time.perf_counter() - t0
            done_sections.append(section)
            if log is not None:
                log(f"{section.title}: done in {section.seconds:.2f} s")
        write_report(staging, done_sections, quick)
        for item in sorted(staging.iterdir()):
            os.replace(item, outdir / item.name)
        done = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not done:
            shutil.rmtree(outdir, ignore_errors=True)
    report = outdir / "report.html"
    if log is not None:
        log(f"report written to {report}")
    return report
