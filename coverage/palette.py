"""One colour scale for townships by share covered, used by the app's maps and the HTML report.

Four classes (below 50 %, 50-70 %, 70-90 %, at least 90 %) and grey for a township
without residents, so a township has the same colour on screen and on paper.
"""

from __future__ import annotations

import math

import pandas as pd

#: Township shading by share covered: (upper limit, colour), lowest class first.
SHARE_COLOURS = ((0.5, "#d7301f"), (0.7, "#fc8d59"), (0.9, "#fdcc8a"), (math.inf, "#1a9850"))
#: Colour of a township without residents (no share).
NO_SHARE_COLOUR = "#cccccc"
#: Fill opacity of township shading, on the map and in its legend swatches alike.
SHARE_OPACITY = 0.55


def share_colour(share) -> str:
    """Fill colour of a township by its share covered (grey without residents)."""
    if share is None or pd.isna(share):
        return NO_SHARE_COLOUR
    return next(colour for limit, colour in SHARE_COLOURS if float(share) < limit)


def share_classes() -> list[tuple[float, float, str]]:
    """The classes as ``(lower, upper, colour)`` for legends."""
    lower, out = 0.0, []
    for limit, colour in SHARE_COLOURS:
        out.append((lower, limit, colour))
        lower = limit
    return out
