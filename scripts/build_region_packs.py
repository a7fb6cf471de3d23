"""Build the shipped region packs, byte for byte, from ``../shared`` and the seed notes.

Four packs are written (see ``docs/region-pack.md``):

* the default pack at the repository root: 重庆高新区直管园 / 西部（重庆）科学城核心区,
  the ten 街镇 虎溪, 西永, 香炉山, 曾家 (沙坪坝区) and 含谷, 金凤, 白市驿, 走马, 石板,
  巴福 (九龙坡区);
* ``regions/beibei``: 北碚区, all 17 街镇;
* ``regions/wanzhou``: 万州区, all 52 街镇, its synthetic roads crossing an illustrative
  course of the Yangtze only on five named bridges;
* ``regions/yongchuan``: 永川区, all 23 街镇.

万州 and 永川 are built the way ``coverage init`` starts any district
(:func:`coverage.pack_init.init_pack`), from the reference data the package ships,
so that path runs every time the packs are regenerated; the two older packs are
built from ``../shared/data`` by the same functions (:mod:`coverage.pack_init`).

Every GCJ-02 input (Amap district outlines, town seats, village points, facility
coordinates) is converted to WGS-84 once, where it is read. Township polygons and
populations do not exist as open data; they are estimated here by documented rules:

* **Polygons**: Voronoi cells of all town seats of a district (in EPSG:32648), clipped
  to the district outline. Seats missing from the data get an *illustrative* seat
  (:data:`ILLUSTRATIVE_SEATS`, approximate positions from general knowledge).
* **Population**: the district's 2020 census urban population is shared among its
  居委会/社区 and its rural population among its 村委会, both counted per township from
  the 2016 statistical codes (:func:`township_population`).

Facilities are hand-transcribed from the seeds into ``scripts/pack_sources/*.csv``
(each row quotes its seed; the quotes are checked against ``shared/seeds``). The road
network is synthetic (``coverage.synthetic``).

Usage::

    python scripts/build_region_packs.py [--shared ../shared] [--out REPO_ROOT]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from coverage import pack_init  # noqa: E402
from coverage.errors import InputError  # noqa: E402
from coverage.pack_init import PackSpec, place_facilities, write_pack  # noqa: E402
from coverage.river import Crossing  # noqa: E402

SOURCES = ROOT / "scripts" / "pack_sources"

#: Town seats (镇政府/街道办) missing from townships_2023.csv, GCJ-02, approximate
#: positions from general knowledge of the city. They are ILLUSTRATIVE: each is
#: written with seat_quality "illustrative" and named in the township's
#: geometry_source; the build fails if one falls outside its district outline.
ILLUSTRATIVE_SEATS: dict[str, tuple[float, float]] = {
    "500106011": (106.455, 29.535),   # 新桥街道
    "500106019": (106.395, 29.625),   # 丰文街道
    "500106020": (106.352, 29.575),   # 香炉山街道
    "500107001": (106.515, 29.505),   # 杨家坪街道
    "500107002": (106.512, 29.492),   # 黄桷坪街道
    "500107003": (106.525, 29.520),   # 谢家湾街道
    "500107004": (106.502, 29.524),   # 石坪桥街道
    "500107005": (106.485, 29.545),   # 石桥铺街道
    "500107006": (106.402, 29.530),   # 中梁山街道
    "500107007": (106.495, 29.530),   # 渝州路街道
    "500107008": (106.470, 29.520),   # 二郎街道
    "500109003": (106.415, 29.845),   # 北温泉街道
    "500101017": (108.388, 30.812),   # 太白街道 (万州 old town, north bank)
    "500101021": (108.395, 30.830),   # 周家坝街道 (north bank)
    "500101023": (108.389, 30.795),   # 钟鼓楼街道 (old town, north bank)
    "500101025": (108.420, 30.745),   # 五桥街道 (south bank)
    "500101238": (108.820, 30.520),   # 地宝土家族乡 (south-east, beside 恒合)
    "500118004": (105.930, 29.420),   # 茶山竹海街道 (永川, north of the city)
}

#: An ILLUSTRATIVE course of the Yangtze (长江) through 万州, GCJ-02, upstream to
#: downstream, extended beyond the district at both ends. No river data ships with
#: the project; the course is drawn between the town seats known to lie on each
#: bank (武陵, 瀼渡, 高峰, 九池 and the old town on the north-west bank; 溪口, 新田,
#: 龙都, 百安坝, 长岭 on the south-east bank), so it is right about the banks and
#: only roughly right about the line.
YANGTZE_WANZHOU = (
    (108.05, 30.36), (108.20, 30.46), (108.27, 30.52), (108.325, 30.58), (108.333, 30.63),
    (108.37, 30.70), (108.388, 30.74), (108.400, 30.770), (108.398, 30.805),
    (108.415, 30.835), (108.46, 30.865), (108.50, 30.875), (108.54, 30.89), (108.60, 30.90),
    (108.70, 30.93), (108.90, 30.98),
)
YANGTZE_SOURCE = ("illustrative course drawn by the project between the seats of the "
                  "townships on each bank (townships_2023.csv); bridge positions from public "
                  "knowledge, approximate; neither 万州 document names a bridge or a ferry")
#: The road bridges over the Yangtze at 万州 (public knowledge; positions approximate,
#: GCJ-02). The seeds name none, and no ferry, so none is modelled.
WANZHOU_BRIDGES = (
    Crossing("新田长江大桥", 108.370, 30.700),
    Crossing("牌楼长江大桥", 108.384, 30.732),
    Crossing("万州长江大桥", 108.397, 30.763),
    Crossing("万州长江二桥", 108.399, 30.790),
    Crossing("驸马长江大桥", 108.440, 30.850),
)

PACKS = (
    PackSpec(
        slug="gaoxin",
        name_zh="重庆高新区直管园（西部（重庆）科学城核心区）",
        name_en="Chongqing High-tech Zone directly administered area (Western Science City core)",
        folder=".",
        adcodes=("500106", "500107"),
        townships=("500106016", "500106017", "500106020", "500106108", "500107103",
                   "500107104", "500107105", "500107106", "500107107", "500107108"),
        facilities_csv="gaoxin_facilities.csv",
        official_boundary=False,
        network_seed=2022,
    ),
    PackSpec(
        slug="beibei",
        name_zh="北碚区",
        name_en="Beibei District",
        folder="regions/beibei",
        adcodes=("500109",),
        townships=None,
        facilities_csv="beibei_facilities.csv",
        official_boundary=True,
        network_seed=500109,
    ),
    PackSpec(
        slug="wanzhou",
        name_zh="万州区",
        name_en="Wanzhou District",
        folder="regions/wanzhou",
        adcodes=("500101",),
        townships=None,
        facilities_csv="wanzhou_facilities.csv",
        official_boundary=True,
        network_seed=500101,
        river=("长江", YANGTZE_WANZHOU, YANGTZE_SOURCE),
        crossings=WANZHOU_BRIDGES,
    ),
    PackSpec(
        slug="yongchuan",
        name_zh="永川区",
        name_en="Yongchuan District",
        folder="regions/yongchuan",
        adcodes=("500118",),
        townships=None,
        facilities_csv="yongchuan_facilities.csv",
        official_boundary=True,
        network_seed=500118,
    ),
)
#: Packs built through :func:`coverage.pack_init.init_pack` from the shipped data.
INIT_PACKS = ("wanzhou", "yongchuan")


def read_census(shared: Path) -> pd.DataFrame:
    """The 2020 census table of ``shared``, indexed by district adcode."""
    return pack_init.read_census(shared / pack_init.CENSUS_FILE)


def build_district(shared: Path, adcode: str, census: pd.DataFrame) -> pack_init.District:
    """A district of the five-district files in ``shared/data`` (older packs)."""
    return pack_init.build_district(shared / "data", adcode, census, seats=ILLUSTRATIVE_SEATS)

def read_facility_sources(path: Path) -> list[dict]:
    """The hand-transcribed facility rows (blank cells as None)."""
    with open(path, encoding="utf-8", newline="") as fh:
        return [{k: (v.strip() or None) for k, v in row.items()} for row in csv.DictReader(fh)]


def check_quotes(rows: list[dict], path: Path, seeds_dir: Path) -> None:
    """Every ``source_quote`` part (``' … '``-separated) is in a seed its ``source`` names.

    Quotes are compared with whitespace removed: the seeds are laid out in newspaper
    columns with line breaks inside sentences.
    """
    texts = {f.name[:3]: re.sub(r"\s+", "", f.read_text(encoding="utf-8"))
             for f in sorted(seeds_dir.glob("*.txt"))}
    for i, row in enumerate(rows, start=1):
        ids = re.findall(r"seed (\d{3})", row["source"] or "")
        if not ids or not row["source_quote"]:
            raise InputError(path, "every record needs a seed in source and a source_quote",
                             row=i, field="source")
        for part in row["source_quote"].split(" … "):
            if not any(re.sub(r"\s+", "", part) in texts.get(s, "") for s in ids):
                raise InputError(path, f"quote not found in seed {'/'.join(ids)}: {part!r}",
                                 row=i, field="source_quote")


def seed_register(spec: PackSpec, shared: Path):
    """``place(townships)`` for a pack's hand-transcribed register, quotes checked."""
    csv_path = SOURCES / spec.facilities_csv
    rows = read_facility_sources(csv_path)
    check_quotes(rows, csv_path, shared / "seeds")
    return lambda townships: place_facilities(rows, csv_path, townships,
                                              townships["geometry"].to_list())


def build_all(shared: Path, out_root: Path, *, with_network: bool = True,
              verbose: bool = True) -> dict[str, dict]:
    """Build every pack of :data:`PACKS`; return their summaries by slug."""
    census = read_census(shared)
    adcodes = sorted({a for spec in PACKS if spec.slug not in INIT_PACKS for a in spec.adcodes})
    districts = {a: build_district(shared, a, census) for a in adcodes}
    results = {}
    for spec in PACKS:
        if spec.slug in INIT_PACKS:
            results[spec.slug] = pack_init.init_pack(
                spec.adcodes[0], out_root / spec.folder,
                spec=dataclasses.replace(spec, folder="."), place=seed_register(spec, shared),
                seats=ILLUSTRATIVE_SEATS, with_network=with_network)
        else:
            results[spec.slug] = write_pack(spec, districts, out_root,
                                            seed_register(spec, shared),
                                            with_network=with_network)
        if verbose:
            report(spec, results[spec.slug])
    return results


def report(spec: PackSpec, result: dict) -> None:
    """Print a pack's township populations and facility counts."""
    townships = result["townships"]
    print(f"{spec.slug}: {spec.name_zh} -> {spec.folder}")
    for row in townships.itertuples():
        flag = " (fallback: median)" if row.fallback else ""
        seat = "" if row.seat_quality == "official" else " [illustrative seat]"
        print(f"  {row.code} {row.name:<8} {int(row.population):>9,}  "
              f"居委会 {row.communities_2016:>3} 村委会 {row.villages_2016:>3}{flag}{seat}")
    print(f"  total {int(townships['population'].sum()):,}")
    counts = pd.DataFrame([f["properties"] for f in result["facilities"]]).groupby(
        ["type", "status"]).size()
    print(f"  facilities: {len(result['facilities'])}")
    for (kind, status), n in counts.items():
        print(f"    {kind:<26} {status:<20} {n}")
    print(f"  villages/communities: {len(result['villages'])}; network: "
          f"{result['network'] or 'none'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared",
                        help="the shared data folder (default: <repo>/../shared)")
    parser.add_argument("--out", type=Path, default=ROOT,
                        help="where to write the packs (default: the repository root)")
    parser.add_argument("--no-network", action="store_true",
                        help="skip the synthetic road network")
    args = parser.parse_args(argv)
    if not (args.shared / "data").is_dir():
        parser.error(f"{args.shared}/data not found: pass --shared")
    build_all(args.shared, args.out, with_network=not args.no_network)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
