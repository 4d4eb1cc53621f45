"""Figures 7-10 of Appendix A: cumulative learned against forgetting events, one panel per class
(matplotlib, the ``[plots]`` extra). The events come from :mod:`ltbound.regularity.events`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


from .._validation import check_finite_scalar
from .events import _check_event_pairs

__all__ = ["plot_events"]


# ----------------------------------------------------------------------------- Figs. 7-10
def plot_events(learned: Any, forgotten: Any, labels: Any, num_classes: int, path: str | Path, *,
                title: str | None = None, alpha: float = 0.3, class_names: list[str] | None = None) -> Path:
    """Scatter of cumulative learned vs forgetting events, one panel per class (Figs. 7-10).

    Parameters
    ----------
    learned, forgotten : array_like, shape (N,)
        L_i^T (x axis) and F_i^T (y axis) of every sample; finite.
    labels : array_like of int, shape (N,)
        Class of each sample, in [0, num_classes).
    num_classes : int
        C; panels are laid out 5 per row (2 x 5 for CIFAR-10).
    path : path-like
        Output PNG file; its folder is created if missing.
    title : str, optional
        Figure title.
    alpha : float, default 0.3
        Marker opacity, so that overlapping integer points show as darker spots
        (no jitter is added: the points are the exact event counts).
    class_names : list of str, optional
        Panel titles; default "cls0", "cls1", ... as in the paper's figures.

    Returns
    -------
    Path
        The written file. Regular samples sit at the lower right (high L, low F).

    Notes
    -----
    Uses matplotlib's Agg canvas directly, so no global backend is changed and no display
    is needed. matplotlib is imported here only.
    """
    c, lv, fv, y = _check_event_pairs(learned, forgotten, labels, num_classes)
    a = check_finite_scalar(alpha, "alpha", low=0.0, high=1.0, low_open=True)
    names = class_names if class_names is not None else [f"cls{j}" for j in range(c)]
    if len(names) != c:
        raise ValueError(f"class_names must have {c} entries, got {len(names)}")
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise ValueError(f"path must end in .png (the figure is written as PNG), got {str(out)!r}")

    from .._optional import require
    require("matplotlib", "plot_events")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ncols = min(5, c)
    nrows = -(-c // ncols)
    fig = Figure(figsize=(3.0 * ncols, 2.8 * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for j in range(nrows * ncols):
        ax = axes.flat[j]
        if j >= c:
            ax.set_visible(False)
            continue
        m = y == j
        ax.scatter(lv[m], fv[m], s=6, alpha=a, linewidths=0)
        ax.set_title(f"{names[j]} (n={int(m.sum())})", fontsize=9)
        if j % ncols == 0:
            ax.set_ylabel("forgetting events F")
        if j // ncols == nrows - 1:
            ax.set_xlabel("cumulative learned events L")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100)
    return out
