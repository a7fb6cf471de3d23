"""Why a target fails, township by township, in one sentence each (未达标原因).

The dashboard names each failing township of the 15-minute circle with its share
against the requirement and the cause: residents no facility reaches within the
threshold, residents off the road network (farther than
:data:`coverage.modes.OFF_NETWORK_M` from every usable road: their long off-road walk counts),
or missing data (no residents in the township). Other failing targets get the
rule's own cause in one sentence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coverage.access import AccessContext, within
from coverage.targets import circle_parameters

#: Causes of a township failing the circle, in the order they are named.
CAUSES = ("no_data", "off_network", "unreached")

_SENTENCE = {
    "zh": {
        "no_data": "{name}：无人口数据，无法核算。",
        "off_network": "{name}：覆盖率 {share:.1%}，要求 {required:.0%}；{off:,.0f} 名居民距可用道路超过 {metres:.0f} 米（路网外），另有 {unreached:,.0f} 人在 {minutes:g} 分钟内无机构可达。",
        "unreached": "{name}：覆盖率 {share:.1%}，要求 {required:.0%}；{unreached:,.0f} 名居民在 {minutes:g} 分钟内无机构可达。",
    },
    "en": {
        "no_data": "{name}: no population data, so it cannot be judged.",
        "off_network": "{name}: {share:.1%} covered, {required:.0%} required; {off:,.0f} residents live more than {metres:.0f} m from a usable road (off the network), and {unreached:,.0f} more reach no facility within {minutes:g} min.",
        "unreached": "{name}: {share:.1%} covered, {required:.0%} required; {unreached:,.0f} residents reach no facility within {minutes:g} min.",
    },
}

_RULE_CAUSE = {
    "zh": {
        "one_per_township": "这些街镇没有开放的卫生院或社区卫生服务中心。",
        "one_per_village": "这些街镇有村（社区）未配置卫生室。",
        "hospital_reach": "这些街镇有居民在规定时间内到不了三甲医院。",
        "ambulance_response": "急救反应时间为测算值（车辆从急救站出发），超过要求的分钟数；路网外居民按步行接驳计。",
        "ratio": "名录中该项人员或床位数低于按常住人口计算的要求（或数据不全）。",
        "tiered": "三级诊疗体系按层级计数：未达标的层级在此街镇缺少相应机构或超出时间。",
        "circle": "这些街镇在阈值时间内可达机构的居民比例低于要求。",
        "count": "名录中符合等级或称号的机构数量未达到规划要求。",
    },
    "en": {
        "one_per_township": "These townships have no open township health centre or community health service centre.",
        "one_per_village": "These townships have villages (communities) without a clinic.",
        "hospital_reach": "Residents of these townships cannot reach a grade-3A hospital in the time required.",
        "ambulance_response": "The modelled response time (vehicles leaving the stations) exceeds the minutes required; off-network residents are counted with a walking leg.",
        "ratio": "The register's staff or beds fall short of the requirement per resident (or the data are incomplete).",
        "tiered": "Tiers are counted level by level: a failing tier lacks a facility or the time in these townships.",
        "circle": "Fewer residents than required reach a facility within the threshold.",
        "count": "The register holds fewer facilities of the grade or designation than the plan requires.",
    },
}


def circle_failures(context: AccessContext, *, params: dict | None = None) -> pd.DataFrame:
    """The townships failing the 15-minute circle, with their figures and cause.

    Parameters
    ----------
    context
        The region and year.
    params
        The circle's parameters (default: the pack's circle target,
        :func:`coverage.targets.circle_parameters`).

    Returns
    -------
    pandas.DataFrame
        One row per failing township (lowest share first): ``code``, ``name``,
        ``population``, ``covered``, ``share``, ``required``, ``off_network``
        (residents farther than :data:`coverage.modes.OFF_NETWORK_M` from every usable road),
        ``unreached`` (the other uncovered residents) and ``cause``
        (one of :data:`CAUSES`).
    """
    params = params or circle_parameters(context.region)
    required = float(params.get("required_share", 1.0))
    points = context.population
    weight = points["population"].to_numpy(dtype=float)
    seconds, _ = context.seconds_by_kind(params["modes"], context.facilities(params["types"]))
    covered = within(seconds, params["minutes"])
    off = context.off_network(params["modes"])  # the same rule the targets report by
    codes = points["township_code"].astype(str).to_numpy()
    table = pd.DataFrame({"code": codes, "population": weight,
                          "covered": np.where(covered, weight, 0.0),
                          "off_network": np.where(~covered & off, weight, 0.0),
                          "unreached": np.where(~covered & ~off, weight, 0.0)})
    towns = context.region.townships[["code", "name"]].astype({"code": str})
    sums = table.groupby("code").sum()
    frame = towns.merge(sums, left_on="code", right_index=True, how="left").fillna(0.0)
    frame["share"] = frame["covered"] / frame["population"].where(frame["population"] > 0)
    frame["required"] = required
    failing = frame["share"].isna() | (frame["share"] < required - 1e-9)
    frame = frame[failing].copy()
    frame["cause"] = np.select([frame["population"] <= 0, frame["off_network"] > 0],
                               ["no_data", "off_network"], "unreached")
    frame["minutes"] = float(params["minutes"])
    return frame.sort_values(["share", "code"], na_position="first").reset_index(drop=True)


def township_sentences(failures: pd.DataFrame, lang: str = "zh") -> list[str]:
    """One sentence per row of :func:`circle_failures`, in ``lang``."""
    from coverage.modes import OFF_NETWORK_M

    text = _SENTENCE[lang]
    return [text[row["cause"]].format(
        name=row["name"], share=0.0 if pd.isna(row["share"]) else row["share"],
        required=row["required"], off=row["off_network"], unreached=row["unreached"],
        minutes=row["minutes"], metres=OFF_NETWORK_M) for row in failures.to_dict("records")]


def rule_cause(rule: str, lang: str = "zh") -> str:
    """The cause of a failing target of ``rule`` in one sentence (empty when unknown)."""
    return _RULE_CAUSE[lang].get(rule, "")


def describe_sites(region, sites) -> pd.DataFrame:
    """Sites (WGS-84 points with ``id``) by township and coordinates, for people to read.

    Returns ``id``, ``township_code``, ``township``, ``lon``, ``lat`` and ``label``
    (``township (lon, lat)``), in the order of ``sites``.
    """
    from coverage.population import assign_townships

    x, y = sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()
    codes = assign_townships(region.townships, x, y, region.metric_crs)
    names = dict(zip(region.townships["code"].astype(str), region.townships["name"]))
    township = [names.get(str(c), "") for c in codes]
    return pd.DataFrame({
        "id": sites["id"].astype(str).to_numpy(), "township_code": codes, "township": township,
        "lon": x, "lat": y,
        "label": [f"{n} ({lon:.4f}, {lat:.4f})" for n, lon, lat in zip(township, x, y)]})


_ANSWER = {
    "zh": {
        "covering": "新增 {n} 个站点后，{minutes:g} 分钟内覆盖 {after:,.0f} 人（占 {share:.1%}），比现状多 {gain:,.0f} 人。",
        "lscp": "要让所有可覆盖的居民都在 {minutes:g} 分钟内，需新增 {n} 个站点；{excluded:,.0f} 人任何候选点都覆盖不到，未计入。",
        "pmedian": "新增 {n} 个站点后，居民到最近机构的平均时间为 {mean:.1f} 分钟（现状 {before:.1f} 分钟）。",
        "optimal": "已证明为最优解。",
        "time limit": "达到时间上限：给出当前最好解，与最优解的差距不超过 {gap:.1%}。",
        "greedy": "为贪心近似解，未证明最优（与最优解的差距不超过 {gap:.1%}）。",
        "unknown_gap": "未证明最优，差距未知。",
    },
    "en": {
        "covering": "With {n} new sites, {after:,.0f} residents ({share:.1%}) are within {minutes:g} min: {gain:,.0f} more than today.",
        "lscp": "{n} new sites put every coverable resident within {minutes:g} min; {excluded:,.0f} residents no candidate can cover are left out.",
        "pmedian": "With {n} new sites, the mean time to the nearest facility is {mean:.1f} min (today {before:.1f} min).",
        "optimal": "Proven optimal.",
        "time limit": "Time limit reached: the best solution found, within {gap:.1%} of the optimum.",
        "greedy": "A greedy approximation, not proven optimal (within {gap:.1%} of the optimum).",
        "unknown_gap": "Not proven optimal; the gap is unknown.",
    },
}


def siting_summary(context: AccessContext, answer, *, minutes: float, mode, types,
                   lang: str = "zh") -> str:
    """A plain sentence on a siting answer (:class:`coverage.siting.SitingResult`): the
    gain over today and whether the answer is proven optimal, or its gap."""
    text = _ANSWER[lang]
    weight = context.population["population"].to_numpy(dtype=float)
    seconds, _ = context.seconds_by_kind(mode, context.facilities(list(types)))
    n = len(answer.selected)
    if answer.model == "mclp":
        before = float(weight[within(seconds, minutes)].sum())
        total = float(weight.sum())
        first = text["covering"].format(n=n, minutes=minutes, after=answer.covered,
                                        share=answer.covered / total if total else 0.0,
                                        gain=answer.covered - before)
    elif answer.model == "lscp":
        excluded = float(weight[answer.excluded].sum()) if len(answer.excluded) else 0.0
        first = text["lscp"].format(n=n, minutes=minutes, excluded=excluded)
    else:
        reached = np.isfinite(seconds)
        served = max(float(answer.covered), 1e-12)
        before = float((weight[reached] * seconds[reached]).sum() / max(weight[reached].sum(), 1e-12))
        first = text["pmedian"].format(n=n, mean=answer.objective / served / 60.0,
                                       before=before / 60.0)
    if answer.status == "optimal":
        second = text["optimal"]
    elif np.isfinite(answer.gap):
        second = text.get(answer.status, text["greedy"]).format(gap=answer.gap)
    else:
        second = text["unknown_gap"]
    return first + second
