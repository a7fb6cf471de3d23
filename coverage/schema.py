"""The vocabulary of the data model: facility types, grades, statuses, column names.

Each vocabulary maps a canonical English key to its Chinese name and the spellings
found in Chongqing planning documents and spreadsheets. Loaders accept any spelling
and store the canonical key; user-facing text shows the Chinese name first.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """One entry of a vocabulary: canonical key, Chinese and English names, aliases."""

    key: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()


def _index(terms: tuple[Term, ...]) -> dict[str, str]:
    table: dict[str, str] = {}
    for term in terms:
        for spelling in (term.key, term.zh, term.en, *term.aliases):
            table[_fold(spelling)] = term.key
    return table


def _fold(text: str) -> str:
    return "".join(str(text).split()).lower().replace("-", "_").replace("（", "(").replace("）", ")")


FACILITY_TYPES: tuple[Term, ...] = (
    Term("tertiary_hospital", "三级医院", "tertiary hospital",
         ("三级综合医院", "三甲医院", "三级甲等医院", "tertiary")),
    Term("secondary_hospital", "二级医院", "secondary hospital",
         ("二级综合医院", "二级甲等医院", "区县医院", "secondary", "general hospital", "综合医院")),
    Term("township_health_centre", "乡镇卫生院", "township health centre",
         ("镇卫生院", "卫生院", "中心卫生院", "街道卫生院", "thc", "township health center")),
    Term("community_health_centre", "社区卫生服务中心", "community health service centre",
         ("社区医院", "chc", "community health center",
          "community health service center")),
    Term("health_station", "卫生服务站", "health service station",
         ("社区卫生服务站", "卫生服务站点", "health station")),
    Term("village_clinic", "村卫生室", "village clinic", ("卫生室", "村医务室", "涉农社区卫生室")),
    Term("cdc", "疾病预防控制中心", "centre for disease control",
         ("疾控中心", "疾控", "center for disease control")),
    Term("maternal_child_health", "妇幼保健院", "maternal and child health hospital",
         ("妇幼保健计划生育服务中心", "妇幼", "mch")),
    Term("emergency_station", "急救站", "emergency station",
         ("120急救站", "急救分站", "急救中心", "ambulance station")),
    Term("other", "其他", "other", ("其它", "专科医院", "specialist hospital")),
)

FACILITY_STATUSES: tuple[Term, ...] = (
    Term("existing", "现有", "existing", ("已建成", "在用", "运行", "建成投用", "已完成并运行", "open")),
    Term("planned", "规划", "planned", ("拟建", "新建", "规划建设", "立项", "设计")),
    Term("under_construction", "在建", "under construction", ("施工中", "开工", "建设中")),
    Term("relocating", "迁建中", "relocating", ("迁建", "迁扩建", "搬迁", "拟迁建", "重新选址")),
    Term("closed", "关闭", "closed", ("撤销", "停用", "已迁出")),
)

#: Grades, highest first. ``甲级基层`` is the grade-A standard for primary care.
GRADES: tuple[Term, ...] = (
    Term("三甲", "三级甲等", "grade 3A", ("3a", "三级甲等医院", "三甲医院", "3甲")),
    Term("三级", "三级", "grade 3", ("3", "三级医院", "三乙", "三级乙等")),
    Term("二甲", "二级甲等", "grade 2A", ("2a", "二级甲等医院")),
    Term("二级", "二级", "grade 2", ("2", "二级医院", "二乙", "二级乙等")),
    Term("一级", "一级", "grade 1", ("1", "一级医院")),
    Term("甲级基层", "甲级基层", "grade-A primary", ("甲级", "甲级卫生院", "甲级乡镇卫生院")),
    Term("未定级", "未定级", "ungraded", ("", "none", "无")),
)

LOCATION_QUALITIES: tuple[Term, ...] = (
    Term("surveyed", "实测", "surveyed", ("gps",)),
    Term("approximate", "近似", "approximate", ("approx",)),
    Term("illustrative", "示意", "illustrative", ("示例",)),
)

#: Provenance classes of a data layer (every shipped layer carries one).
PROVENANCE_QUALITIES: tuple[Term, ...] = (
    Term("surveyed", "实测", "surveyed"),
    Term("official", "官方", "official"),
    Term("estimated", "估算", "estimated"),
    Term("illustrative", "示意", "illustrative"),
    Term("synthetic", "合成", "synthetic"),
)

TOWNSHIP_KINDS: tuple[Term, ...] = (
    Term("street", "街道", "street", ("subdistrict", "街道办事处")),
    Term("town", "镇", "town"),
    Term("township", "乡", "township"),
)

_TYPE_INDEX = _index(FACILITY_TYPES)
_STATUS_INDEX = _index(FACILITY_STATUSES)
_GRADE_INDEX = _index(GRADES)
_QUALITY_INDEX = _index(LOCATION_QUALITIES)
_PROVENANCE_INDEX = _index(PROVENANCE_QUALITIES)
_KIND_INDEX = _index(TOWNSHIP_KINDS)


def _lookup(index: dict[str, str], terms: tuple[Term, ...], value, what: str) -> str:
    key = index.get(_fold(value if value is not None else ""))
    if key is None:
        allowed = ", ".join(f"{t.key} ({t.zh})" for t in terms)
        raise ValueError(f"{value!r} is not a known {what}; expected one of {allowed}")
    return key


def facility_type(value) -> str:
    """Canonical facility type key for any accepted spelling (raises ValueError)."""
    return _lookup(_TYPE_INDEX, FACILITY_TYPES, value, "facility type")


def facility_status(value) -> str:
    """Canonical facility status key for any accepted spelling (raises ValueError)."""
    return _lookup(_STATUS_INDEX, FACILITY_STATUSES, value, "facility status")


def grade(value) -> str:
    """Canonical grade for any accepted spelling (raises ValueError)."""
    return _lookup(_GRADE_INDEX, GRADES, value, "grade")


def location_quality(value) -> str:
    """Canonical location quality (surveyed / approximate / illustrative)."""
    return _lookup(_QUALITY_INDEX, LOCATION_QUALITIES, value, "location quality")


def provenance_quality(value) -> str:
    """Canonical layer provenance (surveyed / official / estimated / illustrative / synthetic)."""
    return _lookup(_PROVENANCE_INDEX, PROVENANCE_QUALITIES, value, "provenance quality")


def township_kind(value) -> str:
    """Canonical township kind (street / town / township)."""
    return _lookup(_KIND_INDEX, TOWNSHIP_KINDS, value, "township kind")


def label(terms: tuple[Term, ...], key: str, lang: str = "zh") -> str:
    """The Chinese (``lang='zh'``) or English name of a canonical key."""
    for term in terms:
        if term.key == key:
            return term.zh if lang == "zh" else term.en
    return key


#: Facility fields: canonical name -> accepted column headers (Chinese and English).
FACILITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "机构编码", "机构代码", "code", "facility_id"),
    "name": ("name", "名称", "机构名称", "医疗机构名称", "name_zh"),
    "aliases": ("aliases", "别名", "又名"),
    "type": ("type", "类型", "机构类型", "类别", "facility_type"),
    "grade": ("grade", "等级", "级别", "医院等级"),
    "township_code": ("township_code", "乡镇代码", "街镇代码", "所属乡镇代码", "区划代码"),
    "status": ("status", "状态", "建设状态", "建设性质"),
    "opening_year": ("opening_year", "开业年份", "投用年份", "建成年份", "opened"),
    "closing_year": ("closing_year", "关闭年份", "停用年份", "closed"),
    "replaces": ("replaces", "迁建自", "替代"),
    "beds": ("beds", "床位", "床位数", "编制床位", "开放床位"),
    "physicians": ("physicians", "执业医师", "医师", "执业(助理)医师", "执业（助理）医师", "doctors"),
    "nurses": ("nurses", "护士", "注册护士"),
    "gps": ("gps", "general_practitioners", "全科医生", "全科医师"),
    "public_health_staff": ("public_health_staff", "公卫人员", "公共卫生人员"),
    "ambulances": ("ambulances", "救护车", "急救车"),
    "staff": ("staff", "职工", "人员", "卫生人员", "卫技人员", "职工总数"),
    "source": ("source", "来源", "资料来源"),
    "source_quote": ("source_quote", "原文", "引文"),
    "location_quality": ("location_quality", "位置精度", "位置质量"),
    "designations": ("designations", "称号", "功能定位"),
    "grades": ("grades", "等级变更", "分年等级"),
    "lon": ("lon", "lng", "longitude", "经度", "x"),
    "lat": ("lat", "latitude", "纬度", "y"),
    "crs": ("crs", "坐标系"),
}

#: Township fields: canonical name -> accepted column headers.
TOWNSHIP_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "代码", "区划代码", "乡镇代码", "township_code"),
    "name": ("name", "名称", "乡镇", "街镇", "乡镇名称"),
    "kind": ("kind", "类型", "级别"),
    "population": ("population", "人口", "常住人口", "resident_population"),
    "population_source": ("population_source", "人口来源"),
    "population_quality": ("population_quality", "人口质量"),
    "geometry_source": ("geometry_source", "边界来源"),
    "geometry_quality": ("geometry_quality", "边界质量"),
}

INTEGER_FIELDS = ("beds", "physicians", "nurses", "gps", "public_health_staff",
                  "ambulances", "staff")
YEAR_FIELDS = ("opening_year", "closing_year")

#: Largest plausible value of each number a planner types, per record: a figure above
#: it is a typing or unit error (1e30 beds), refused before it can overflow a sum.
#: The largest Chinese hospitals have about 10,000 beds; the most populous 街道 about
#: a million residents.
MAXIMA: dict[str, int] = {
    "beds": 50_000, "physicians": 20_000, "nurses": 50_000, "gps": 10_000,
    "public_health_staff": 10_000, "ambulances": 2_000, "staff": 100_000,
    "population": 10_000_000, "opening_year": 2100, "closing_year": 2100, "year": 2100,
}
