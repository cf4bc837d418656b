"""The shared dialect: warnings at the user's line, renamed keywords,
executors, progress bars, reprs and the column-alias resolver."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
import warnings

from astropy.nddata import NDData
from astropy.table import QTable, Table
import astropy.units as u
import numpy as np
import pytest

from psfkit.datasets import make_noise_image
from psfkit.utils import (
    COLUMN_ALIASES,
    NoDetectionsWarning,
    ParamReprMixin,
    PsfkitDeprecationWarning,
    PsfkitWarning,
    SummaryReprMixin,
    call_collecting_warnings,
    describe,
    executor_kind,
    executor_threads,
    find_column,
    find_xy_columns,
    issue_warnings,
    progress_bar,
    renamed_keyword,
    resolve_executor,
    run_beside,
    run_chunked,
    run_tasks,
    warn,
)


def test_warn_points_at_the_callers_line():
    with pytest.warns(NoDetectionsWarning) as record:
        warn("nothing found", NoDetectionsWarning)  # this line
    assert record[0].filename == __file__


def test_deep_warning_points_at_user_code():
    """A warning raised inside psfkit names this test file, not psfkit."""
    with pytest.warns(PsfkitDeprecationWarning) as record:
        make_noise_image((4, 4), mean=0.0, stddev=1.0, seed=1)
    assert record[0].filename == __file__


def test_renamed_keyword():
    @renamed_keyword(seed="random_state")
    def draw(n, random_state=None):
        return n, random_state

    # the current name alone: silent, at its default value too
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert draw(1, random_state=None) == (1, None)
        assert draw(1, 4) == (1, 4)
    # the former name alone: a deprecation warning at the caller's line,
    # and the value passed on under the current name
    with pytest.warns(PsfkitDeprecationWarning,
                      match="seed= is deprecated; use random_state= "
                            "instead") as record:
        assert draw(1, seed=3) == (1, 3)
    assert record[0].filename == __file__
    # both: refused, naming both, also with the current name at its
    # default or given positionally (a default used to pass for "not
    # given", and the call warned)
    for kwargs, args in (({"random_state": None}, ()), ({}, (None,)),
                         ({"random_state": 4}, ())):
        with pytest.raises(TypeError, match=r"draw\(\) got both "
                           r"random_state= and seed=.*not both"):
            draw(1, *args, seed=3, **kwargs)
    # two former names of one parameter
    @renamed_keyword(n_threads="executor", client="executor")
    def run(executor=None):
        return executor

    with pytest.raises(TypeError, match="got both n_threads= and client="):
        run(n_threads=2, client=None)
    with pytest.raises(TypeError, match="got executor=, n_threads= and "
                       "client="):
        run(None, n_threads=2, client=3)
    with pytest.warns(PsfkitDeprecationWarning, match="client="):
        assert run(client=None) is None
    # an otherwise wrong call gets the function's own error
    with pytest.raises(TypeError, match=r"draw\(\) got an unexpected "
                       "keyword argument 'size'"):
        draw(1, seed=3, size=2)
    # decorating checks the names against the signature
    with pytest.raises(TypeError, match="no parameter 'random_state'"):
        renamed_keyword(seed="random_state")(lambda n: n)
    with pytest.raises(TypeError, match="still has the parameter 'seed'"):
        renamed_keyword(seed="random_state")(
            lambda random_state=None, seed=None: 0)


def _renamed_callables():
    """Every function and method of psfkit with renamed keywords."""
    import importlib
    import inspect
    import pkgutil

    import psfkit

    found = {}
    for info in pkgutil.walk_packages(psfkit.__path__, "psfkit."):
        if info.name.startswith(("psfkit.demo", "psfkit._commands",
                                 "psfkit.cli")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != info.name:
                continue
            if hasattr(obj, "renamed_keywords"):
                found[f"{info.name}.{name}"] = (obj, None)
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if hasattr(member, "renamed_keywords"):
                        found[f"{info.name}.{name}.{attr}"] = (member, obj)
    return found


def test_every_renamed_keyword_refuses_both_names():
    # e.g. fit_ramps(cube, executor=None, n_threads=2) warned and ran: the
    # current name at its default was taken for "not given"
    import inspect

    found = _renamed_callables()
    names = {key.removesuffix(".__init__").rsplit(".", 1)[-1]
             for key in found}
    expected = {
        "get_rng", "resolve_executor", "fit_ramps", "LinearModelSetFitter",
        "adi_subtract", "contrast_curve", "map_remove_psf",
        "tiled_photometry", "tiled_subtract_images", "fit_single_kernels",
        "solve_matching_kernel", "convolve", "convolve_variance",
        "extract_stars", "prepare_psf_model", "PreparedPSFModel",
        "PSFPhotometry", "IterativePSFPhotometry", "make_model_image",
        "make_residual_image", "plot", "make_noise_image", "make_ramp_cube",
        "make_adi_sequence", "make_diffim_pair", "make_random_gaussians"}
    assert expected <= names and len(found) >= len(expected)
    for key, (func, owner) in found.items():
        params = inspect.signature(func).parameters
        for old, new in func.renamed_keywords.items():
            default = params[new].default
            value = None if default is inspect.Parameter.empty else default
            args = () if owner is None else (None,)  # self
            with pytest.raises(TypeError, match=f"got both {new}= and "
                               f"{old}=") as info:
                func(*args, **{new: value, old: value})
            assert "not both" in str(info.value), key


def test_executor_kinds_and_threads():
    assert executor_kind(None) == "serial"
    assert executor_kind(3) == "threads"
    with pytest.raises(ValueError, match="positive number of threads"):
        executor_kind(0)
    with pytest.raises(TypeError, match="executor must be"):
        executor_kind("many")
    assert executor_threads(2) == 2
    assert executor_threads(None) >= 1
    with ThreadPoolExecutor(3) as pool:
        assert executor_threads(pool) == 3
    with ProcessPoolExecutor(1) as pool, pytest.raises(TypeError,
                                                       match="threads of one"):
        executor_threads(pool)


def _mod(task, shared):
    return task % shared


def test_run_tasks_with_threads_keeps_order():
    assert run_tasks(abs, [-3, 2, -1], 2) == [3, 2, 1]
    assert run_tasks(_mod, [7, 9], None, shared=4) == [3, 1]
    assert run_tasks(_mod, [7, 9], 2, shared=4) == [3, 1]


def _warn_odd(task, shared=0):
    if (task + shared) % 2:
        warn(f"task {task} is odd", NoDetectionsWarning)
    return task


@pytest.mark.parametrize("kind", ["threads", "thread pool", "process pool"])
def test_warnings_of_tasks_reach_the_caller(kind):
    # warnings raised on workers named concurrent/futures/thread.py, and
    # were lost on other processes
    pool = {"threads": None, "thread pool": ThreadPoolExecutor(2),
            "process pool": ProcessPoolExecutor(2)}[kind]
    executor = 2 if pool is None else pool
    try:
        with pytest.warns(NoDetectionsWarning) as record:
            assert run_tasks(_warn_odd, [1, 2, 3], executor) == [1, 2, 3]
        assert [str(w.message) for w in record] == ["task 1 is odd",
                                                    "task 3 is odd"]
        assert {w.filename for w in record} == {__file__}
        with pytest.warns(NoDetectionsWarning) as record:
            mine, rest = run_beside(_warn_odd, 5, [6, 7], executor)
        assert (mine, rest) == (5, [6, 7])
        assert sorted(str(w.message) for w in record) == ["task 5 is odd",
                                                          "task 7 is odd"]
        assert {w.filename for w in record} == {__file__}
        with pytest.warns(NoDetectionsWarning) as record:
            run_tasks(_warn_odd, [2], executor, shared=1)
        assert record[0].filename == __file__
    finally:
        if pool is not None:
            pool.shutdown()


def test_warnings_of_chunks_reach_the_caller():
    def work(start, stop, local):
        warn(f"chunk {start}", NoDetectionsWarning)

    with pytest.warns(NoDetectionsWarning) as record:
        run_chunked(work, 4, 1, n_threads=2)
    assert sorted(str(w.message) for w in record) == [
        f"chunk {i}" for i in range(4)]
    assert {w.filename for w in record} == {__file__}


def test_collected_warnings_nest():
    def inner():
        warn("inner", NoDetectionsWarning)
        return 1

    result, notes = call_collecting_warnings(
        lambda: call_collecting_warnings(inner))
    assert result == (1, [(NoDetectionsWarning, "inner")]) and notes == []
    with pytest.warns(NoDetectionsWarning, match="inner") as record:
        issue_warnings(result[1])
    assert record[0].filename == __file__


class _Counter:
    def __init__(self):
        self.n = 0
        self.calls = 0

    def update(self, n=1):
        self.n += n
        self.calls += 1


@pytest.mark.parametrize("executor", [None, 2, "pool"])
def test_run_tasks_counts_finished_tasks(executor):
    bar = _Counter()
    with ThreadPoolExecutor(2) as pool:
        out = run_tasks(abs, [-3, 2, -1, 4], pool if executor == "pool"
                        else executor, progress=bar)
    assert out == [3, 2, 1, 4]
    # one tick per task as it finishes, in this process and in threads
    assert (bar.n, bar.calls) == (4, 4)


def test_resolve_executor_aliases():
    with pytest.warns(PsfkitDeprecationWarning, match="n_threads= is deprecated"):
        assert resolve_executor(n_threads=2) == 2
    with pytest.raises(TypeError, match="not both"):
        resolve_executor(2, n_threads=3)
    # the executor given at its default is given: both names, refused
    with pytest.raises(TypeError, match="executor= and n_threads="):
        resolve_executor(None, n_threads=3)
    assert resolve_executor(None) is None
    assert resolve_executor() is None


def test_progress_bar_disabled_and_enabled(capsys):
    assert list(progress_bar([1, 2], enabled=False)) == [1, 2]
    with progress_bar(total=2, enabled=False) as bar:
        bar.update(2)
    pytest.importorskip("tqdm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(progress_bar(range(3), enabled=True, desc="demo")) == [0, 1, 2]
    assert "demo" in capsys.readouterr().err


def test_describe_never_prints_values():
    big = np.arange(10_000.0).reshape(100, 100)
    text = describe(big)
    assert text == "<float64 array (100, 100)>" and "9999" not in text
    assert describe(big * u.DN / u.s).endswith("unit DN / s>")
    nd = NDData(np.zeros((3, 4), np.float32), mask=np.eye(3, 4, dtype=bool),
                unit="adu")
    assert describe(nd) == "<NDData float32, (3, 4), unit adu, 3 masked>"
    assert describe(QTable({"a": [1, 2]})) == "<QTable: 2 rows, 1 columns>"
    assert describe(3.14159265) == "3.14159"
    assert describe(2.5 * u.s) == "2.5 s"


def test_summary_and_param_reprs():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Result(SummaryReprMixin):
        image: np.ndarray
        kernel_sum: float

    r = Result(np.zeros((512, 512)), 1.23456789)
    assert repr(r) == "Result(image=<float64 array (512, 512)>, kernel_sum=1.23457)"
    assert "frozen" not in repr(r)
    assert "<table>" in r._repr_html_()

    class Finder(ParamReprMixin):
        _repr_params = ("threshold", "fwhm")

        def __init__(self):
            self.threshold, self.fwhm = 10.0, 4.7

    assert repr(Finder()) == "Finder(threshold=10, fwhm=4.7)"


def test_find_column_priority_and_errors():
    t = Table({"x_0": [1.0], "x": [2.0], "ycentroid": [3.0]})
    assert find_column(t, "x") == "x"  # photutils 3.x order: x before x_0
    assert find_xy_columns(t) == ("x", "ycentroid")
    assert find_column(t, "flux", required=False) is None
    with pytest.raises(ValueError, match="catalog has no flux column"):
        find_column(t, "flux", name="catalog")
    assert COLUMN_ALIASES["x"][0] == "x_init"


def test_warning_classes_are_astropy_user_warnings():
    from astropy.utils.exceptions import AstropyUserWarning

    assert issubclass(PsfkitWarning, AstropyUserWarning)
