"""Capacity-aware access: the two-step floating catchment area (2SFCA, 两步移动搜索法).

Distance alone says a facility is reachable; it does not say whether its beds or
physicians are shared by too many residents. 2SFCA (Luo & Wang 2003; with a
Gaussian distance decay, Dai 2010) weighs both:

1. for each open facility ``j``, the supply-to-demand ratio
   ``R_j = S_j / sum_i P_i g(t_ij) * 1000`` over the residents ``i`` within T;
2. for each resident, the access score ``A_i = sum_j R_j g(t_ij)`` over the
   facilities within T: beds (or physicians) per 1,000 residents reachable.

``g`` is 1 within T (inclusive) without decay, or the Gaussian
``(exp(-(t/T)^2/2) - exp(-1/2)) / (1 - exp(-1/2))``, which falls from 1 at the
door to 0 at T. Travel times are residents to facility, each resident by their
own mode, as in :mod:`coverage.access`.

Facilities with no recorded supply are reported and left out (their residents are
not counted as served by them); no default capacity per type is made up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from coverage.access import DEFAULT_MODE_BY_KIND, AccessContext
from coverage.facilities import BASIC_CARE_TYPES
from coverage.siting import site_point_seconds

SUPPLY_FIELDS = ("beds", "physicians")
DECAYS = (None, "gaussian")


def decay_weights(seconds: np.ndarray, minutes: float, decay: str | None = None) -> np.ndarray:
    """Distance-decay weight ``g`` of travel times within the catchment (see module notes)."""
    if decay not in DECAYS:
        raise ValueError(f"unknown decay {decay!r}: expected None or 'gaussian'")
    seconds = np.asarray(seconds, float)
    if decay is None:
        return np.ones_like(seconds)
    floor = np.exp(-0.5)
    return (np.exp(-0.5 * (seconds / (minutes * 60.0)) ** 2) - floor) / (1.0 - floor)


def two_step_fca(context: AccessContext, *, supply: str = "beds", minutes: float = 30.0,
                 mode: Mapping[str, str] | str = DEFAULT_MODE_BY_KIND,
                 types: Sequence[str] = BASIC_CARE_TYPES, decay: str | None = None,
                 overload_ratio: float = 0.5) -> pd.DataFrame:
    """2SFCA access score per township: ``supply`` per 1,000 residents reachable.

    Parameters
    ----------
    context
        The region and year (:class:`coverage.access.AccessContext`).
    supply
        Register column of the supply: ``'beds'`` (床位) or ``'physicians'`` (执业医师).
    minutes
        Catchment T in minutes (inclusive).
    mode
        One mode, or a mapping township kind -> mode.
    types
        Facility types that supply (default basic care).
    decay
        ``None`` (all within T count fully) or ``'gaussian'``.
    overload_ratio
        A township is flagged ``overloaded`` when some of its residents reach a
        facility but its score is below this fraction of the region's score.

    Returns
    -------
    pandas.DataFrame
        One row per township, then the region (``code`` empty): ``code``, ``name``,
        ``kind``, ``population``, ``reachable`` (residents with a supplying facility
        within T), ``score`` (population-weighted mean of the residents' scores,
        unreached residents scoring 0), ``relative`` (score / the region's) and
        ``overloaded``. ``attrs['excluded']`` lists the ids of open facilities left
        out for want of a supply value; ``attrs['ratios']`` maps each used facility
        id to its ``R_j``.
    """
    if supply not in SUPPLY_FIELDS:
        raise ValueError(f"supply must be one of {', '.join(SUPPLY_FIELDS)}, got {supply!r}")
    if not minutes > 0:
        raise ValueError(f"minutes must be > 0, got {minutes!r}")
    facilities = context.facilities(types)
    values = pd.to_numeric(facilities[supply], errors="coerce").astype(float).to_numpy()
    known = np.isfinite(values)
    excluded = facilities.loc[~known, "id"].astype(str).tolist()
    facilities, values = facilities[known], values[known]

    points = context.population
    weight = points["population"].to_numpy(dtype=float)
    matrix = site_point_seconds(context, facilities, minutes * 60.0, mode).tocoo()
    point, site = matrix.row, matrix.col
    g = decay_weights(matrix.data, minutes, decay)
    demand = np.bincount(site, weight[point] * g, minlength=len(facilities))
    ratio = np.divide(values * 1000.0, demand, out=np.zeros(len(facilities)), where=demand > 0)
    score = np.bincount(point, ratio[site] * g, minlength=len(points))
    reachable = np.bincount(point, minlength=len(points)) > 0

    townships = context.region.townships
    codes = townships["code"].astype(str).to_numpy()
    point_codes = points["township_code"].astype(str).to_numpy()
    frame = pd.DataFrame({"code": point_codes, "population": weight,
                          "reachable": np.where(reachable, weight, 0.0),
                          "weighted": weight * score})
    by = frame.groupby("code")[["population", "reachable", "weighted"]].sum().reindex(
        codes, fill_value=0.0)
    total = by.sum()
    out = pd.DataFrame({"code": codes, "name": townships["name"].to_numpy(),
                        "kind": townships["kind"].to_numpy(),
                        "population": by["population"].to_numpy(),
                        "reachable": by["reachable"].to_numpy(),
                        "weighted": by["weighted"].to_numpy()})
    out.loc[len(out)] = {"code": "", "name": context.region.name_zh, "kind": "",
                         "population": total["population"], "reachable": total["reachable"],
                         "weighted": total["weighted"]}
    out["score"] = out["weighted"] / out["population"].where(out["population"] > 0)
    region_score = float(out["score"].iloc[-1]) if out["population"].iloc[-1] > 0 else np.nan
    out["relative"] = out["score"] / region_score if region_score > 0 else np.nan
    out["overloaded"] = ((out["code"] != "") & (out["reachable"] > 0)
                         & (out["relative"] < overload_ratio)).to_numpy(dtype=bool)
    out = out.drop(columns="weighted")
    out.attrs["excluded"] = excluded
    out.attrs["ratios"] = dict(zip(facilities["id"].astype(str), ratio))
    out.attrs["supply"], out.attrs["minutes"], out.attrs["decay"] = supply, minutes, decay
    return out
