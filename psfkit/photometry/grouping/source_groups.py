"""
`SourceGroups`: the result of grouping, with the questions one asks of it
(how big is each group, where is it, which sources are in it) and a plot.
"""

import numpy as np

from ...utils import get_rng, renamed_keyword

__all__ = ["SourceGroups"]


class SourceGroups:
    """
    Sources and the group each belongs to (photutils 3.x's class).

    Parameters
    ----------
    x, y : array-like
        The source positions.
    groups : array-like of int
        The group id of each source.

    Attributes
    ----------
    x, y, groups : `~numpy.ndarray`
        The inputs.
    n_sources, n_groups : int
        The numbers of sources and of distinct groups.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import SourceGroups
    >>> groups = SourceGroups([10, 15, 50, 55, 100], [20, 25, 60, 65, 90],
    ...                       [1, 1, 2, 2, 3])
    >>> groups
    SourceGroups(n_sources=5, n_groups=3)
    >>> groups.sizes
    array([2, 2, 2, 2, 1])
    >>> groups.get_group_sources(1)
    (array([10, 15]), array([20, 25]))
    """

    def __init__(self, x, y, groups):
        self.x = np.asarray(x)
        self.y = np.asarray(y)
        self.groups = np.asarray(groups)
        if not self.x.shape == self.y.shape == self.groups.shape:
            msg = "x, y, and groups must have the same shape"
            raise ValueError(msg)
        self._ids, self._inverse, self._counts = np.unique(
            self.groups, return_inverse=True, return_counts=True)
        self.n_sources = int(self.groups.size)
        self.n_groups = int(self._ids.size)

    def __repr__(self):
        return (f"{type(self).__name__}(n_sources={self.n_sources}, "
                f"n_groups={self.n_groups})")

    def _repr_html_(self):
        return (f"<div><strong>{type(self).__name__}</strong>: "
                f"{self.n_sources} sources in {self.n_groups} groups "
                f"(largest: {int(self._counts.max(initial=0))})</div>")

    def __len__(self):
        return self.n_sources

    @property
    def size_map(self):
        """A dict from group id to the number of sources in the group."""
        return dict(zip(self._ids.tolist(), self._counts.tolist(), strict=True))

    @property
    def sizes(self):
        """The size of the group of each source."""
        return self._counts[self._inverse.ravel()].reshape(self.groups.shape)

    @property
    def group_centers(self):
        """A dict from group id to the mean ``(x, y)`` of its sources."""
        sx = np.bincount(self._inverse.ravel(), weights=self.x.ravel())
        sy = np.bincount(self._inverse.ravel(), weights=self.y.ravel())
        return {gid: (float(sx[i] / n), float(sy[i] / n))
                for i, (gid, n) in enumerate(zip(self._ids.tolist(),
                                                 self._counts, strict=True))}

    def get_group_sources(self, group_id):
        """
        The positions of the sources of one group.

        Parameters
        ----------
        group_id : int
            The group id.

        Returns
        -------
        x, y : `~numpy.ndarray`
        """
        sel = self.groups == group_id
        if not np.any(sel):
            msg = f"Group ID {group_id} not found in groups"
            raise ValueError(msg)
        return self.x[sel], self.y[sel]

    @renamed_keyword(seed="random_state")
    def plot(self, radius, *, ax=None, cmap=None, random_state=0,
             label_groups=False, label_kwargs=None, label_offset=(0, 0),
             **kwargs):
        """
        Draw a circle around each source, coloured by group.

        Parameters
        ----------
        radius : float
            The circle radius in pixels.
        ax : `matplotlib.axes.Axes`, optional
            The axes; the current ones by default.
        cmap : str or `~matplotlib.colors.Colormap`, optional
            The colours of the groups; by default random, well separated
            colours (reproducible with ``random_state``).
        random_state : int or `numpy.random.Generator`, optional
            Draws the default colours.
        label_groups : bool, optional
            Write each group id at the group centre.
        label_kwargs : dict, optional
            Passed to ``ax.text`` for the labels.
        label_offset : tuple of 2 float, optional
            The ``(dx, dy)`` offset of the labels, in pixels.
        seed : int, optional
            Deprecated spelling of ``random_state`` (photutils' name).
        **kwargs
            Passed to the circles (`~matplotlib.collections.PatchCollection`).

        Returns
        -------
        ax : `matplotlib.axes.Axes`
        """
        from matplotlib import colormaps
        from matplotlib.collections import PatchCollection
        from matplotlib.patches import Circle
        import matplotlib.pyplot as plt

        rng = get_rng(random_state)
        ax = plt.gca() if ax is None else ax
        if cmap is None:
            hues = rng.permutation(
                np.linspace(0.0, 1.0, max(self.n_groups, 1), endpoint=False))
            colours = plt.cm.hsv(hues)
        else:
            cmap = colormaps[cmap] if isinstance(cmap, str) else cmap
            colours = cmap(np.linspace(0.0, 1.0, max(self.n_groups, 1)))
        circles = [Circle((xi, yi), radius) for xi, yi in
                   zip(self.x.ravel(), self.y.ravel(), strict=True)]
        kwargs.setdefault("facecolor", "none")
        collection = PatchCollection(circles, **kwargs)
        collection.set_edgecolor(colours[self._inverse.ravel()])
        ax.add_collection(collection)
        if label_groups:
            text_kwargs = {"ha": "center", "va": "center", "zorder": 10}
            text_kwargs.update(label_kwargs or {})
            dx, dy = label_offset
            for i, (gid, (xc, yc)) in enumerate(self.group_centers.items()):
                ax.text(xc + dx, yc + dy, str(gid), color=colours[i],
                        **text_kwargs)
        ax.autoscale_view()
        return ax
