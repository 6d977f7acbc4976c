"""Pictures of explanations: highlighted text (HTML and matplotlib), heatmaps.

Colours are diverging and symmetric around 0 within each document or series:
green pushes the explained value up, red pushes it down, white is neutral.
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import html

import numpy as np

__all__ = ["plot_series", "plot_text", "text_html"]

#: RGB of positive and negative attributions (colour-blind-safe pair)
_UP = (26, 150, 65)
_DOWN = (215, 48, 39)


def _colour(value: float, scale: float) -> tuple[tuple[int, int, int], float]:
    """(RGB, opacity in [0, 1]) of an attribution on a document's scale."""
    strength = min(1.0, abs(value) / scale) if scale > 0 else 0.0
    return (_UP if value >= 0 else _DOWN), strength


def _scale(values) -> float:
    return float(np.max(np.abs(values))) if len(values) else 0.0


def text_html(docs, targets=None, outputs=None) -> str:
    """HTML of documents with each token's background by its attribution.

    ``docs`` is a list of ``(token, attribution)`` lists; a hover shows the
    value. ``targets`` and ``outputs`` label each document.
    """
    rows = []
    for i, pairs in enumerate(docs):
        scale = _scale([a for _, a in pairs])
        spans = []
        for token, a in pairs:
            (r, g, b), alpha = _colour(a, scale)
            spans.append(
                f'<span title="{a:+.4f}" style="background: rgba({r},{g},{b},'
                f'{alpha:.2f}); padding: 0 2px; border-radius: 3px">'
                f"{html.escape(token)}</span>"
            )
        label = ""
        if targets is not None:
            label = f"<b>{html.escape(str(targets[i]))}</b>"
            if outputs is not None:
                label += f" ({outputs[i]:.2f})"
            label += ": "
        rows.append(f"<div style='line-height: 1.8'>{label}{' '.join(spans)}</div>")
    return "<div class='sklstm-explanation'>" + "\n".join(rows) + "</div>"


def plot_text(pairs, *, ax=None, title=None, max_width: float = 0.98):
    """Tokens in reading order, each on a box coloured by its attribution.

    Lines wrap at ``max_width`` (axes fraction). Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 1.6))
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    to_axes = ax.transAxes.inverted()
    scale = _scale([a for _, a in pairs])
    x, y, line_height = 0.0, 0.9, 0.0
    for token, a in pairs:
        rgb, alpha = _colour(a, scale)
        face = tuple(1 - alpha * (1 - c / 255) for c in rgb)
        text = ax.text(
            x,
            y,
            token,
            va="top",
            fontsize=11,
            transform=ax.transAxes,
            bbox=dict(boxstyle="round,pad=0.2", fc=face, ec="none"),
        )
        box = text.get_window_extent(renderer).transformed(to_axes)
        if box.x1 > max_width and x > 0:  # wrap to the next line
            x, y = 0.0, y - 1.6 * line_height
            text.set_position((x, y))
            box = text.get_window_extent(renderer).transformed(to_axes)
        line_height = max(line_height, box.height)
        x = box.x1 + 0.012
    return ax


def plot_series(attributions, series=None, *, ax=None, title=None):
    """Heatmap of attributions over time (x) and channel (y).

    With ``series`` (the input, same shape), each channel's values are drawn
    over its row, scaled to the row's height. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    attributions = np.asarray(attributions, dtype=float)
    if attributions.ndim == 1:
        attributions = attributions[:, None]
    T, C = attributions.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 1.2 + 0.6 * C))
    bound = _scale(attributions.ravel()) or 1.0
    image = ax.imshow(
        attributions.T,
        aspect="auto",
        cmap="RdYlGn",
        vmin=-bound,
        vmax=bound,
        interpolation="nearest",
        extent=(-0.5, T - 0.5, C - 0.5, -0.5),
    )
    if series is not None:
        s = np.asarray(series, dtype=float).reshape(T, C)
        lo, hi = s.min(axis=0), s.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        for c in range(C):
            ax.plot(
                np.arange(T), c + 0.4 - 0.8 * (s[:, c] - lo[c]) / span[c], "k-", lw=1
            )
    ax.set_xlabel("time step")
    ax.set_ylabel("channel")
    ax.set_yticks(range(C))
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    ax.figure.colorbar(image, ax=ax, label="attribution", pad=0.01)
    return ax
