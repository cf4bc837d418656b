"""Checking output paths before a command does any work."""

import os
from pathlib import Path

from .errors import FitsInputError

__all__ = ["check_output_path", "check_output_paths"]


def _resolved(path):
    """An absolute path with links and ``..`` resolved, existing or not."""
    return Path(os.path.realpath(Path(path).expanduser()))


def check_output_path(path, *, inputs=(), overwrite=False):
    """
    Check that an output path may be written.

    Parameters
    ----------
    path : str or `~pathlib.Path`
        The output file.
    inputs : sequence of str or `~pathlib.Path`, optional
        The input files of the same command: never overwritten, even with
        ``overwrite=True``.
    overwrite : bool, optional
        Whether an existing output may be replaced.

    Returns
    -------
    path : `~pathlib.Path`

    Raises
    ------
    FitsInputError
        If the output is one of the inputs, is a folder, exists without
        ``overwrite``, or its folder does not exist or cannot be written.
    """
    return check_output_paths([path], inputs=inputs, overwrite=overwrite)[0]


def check_output_paths(paths, *, inputs=(), overwrite=False):
    """
    Check that a command's outputs may all be written, before any work.

    Parameters
    ----------
    paths : sequence of str or `~pathlib.Path`
        The output files (`None` entries are skipped).
    inputs : sequence of str or `~pathlib.Path`, optional
        The input files of the same command: never overwritten, even with
        ``overwrite=True``.
    overwrite : bool, optional
        Whether existing outputs may be replaced.

    Returns
    -------
    paths : list of `~pathlib.Path`
        The outputs (`None` kept where given).

    Raises
    ------
    FitsInputError
        If two outputs are the same file, an output is one of the inputs
        or a folder, exists without ``overwrite``, or its folder does not
        exist or cannot be written.

    Examples
    --------
    >>> from psfkit.fitsio import check_output_paths
    >>> check_output_paths(['cat.ecsv', './cat.ecsv'])
    Traceback (most recent call last):
    ...
    psfkit.fitsio.FitsInputError: ./cat.ecsv: the same file as output cat.ecsv
    """
    seen = {}
    input_files = {_resolved(item): item for item in inputs if item is not None}
    checked = []
    for path in paths:
        if path is None:
            checked.append(None)
            continue
        # messages quote the path as the user wrote it ('./a' stays './a')
        shown = os.fspath(path)
        path = Path(path)
        real = _resolved(path)
        if real in input_files:
            msg = f"{shown}: refusing to overwrite an input file"
            raise FitsInputError(msg)
        if real in seen:
            msg = f"{shown}: the same file as output {seen[real]}"
            raise FitsInputError(msg)
        seen[real] = shown
        if path.is_dir():
            msg = f"{shown}: is a folder; give a file name"
            raise FitsInputError(msg)
        if path.exists() and not overwrite:
            msg = f"{shown}: already exists (use --overwrite to replace it)"
            raise FitsInputError(msg)
        folder = real.parent
        if not folder.is_dir():
            msg = f"{shown}: the folder {path.parent} does not exist"
            raise FitsInputError(msg)
        if not os.access(folder, os.W_OK | os.X_OK):
            msg = f"{shown}: the folder {path.parent} is not writable"
            raise FitsInputError(msg)
        checked.append(path)
    return checked
