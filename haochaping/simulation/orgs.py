"""The organisations that perform case steps: stable codes and Chinese names per province and role.

The case timelines stamp these on every CaseEvent; the comment vocabulary borrows the place
names and portal names so that citizens talk about the offices the timeline shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from haochaping.codes import PROVINCES, Role


@dataclass(frozen=True, slots=True)
class Place:
    province: str  # 340000
    short: str  # 安徽
    full: str  # 安徽省
    city_code: str  # 340100, the capital's code
    city: str  # 合肥市
    portal: str  # 皖事通, what people call the province's government-service app


# (full name, capital city code, capital) for the mainland provinces; the rest use the province.
_CAPITALS: dict[str, tuple[str, str, str]] = {
    "110000": ("北京市", "110100", "北京市"),
    "120000": ("天津市", "120100", "天津市"),
    "130000": ("河北省", "130100", "石家庄市"),
    "140000": ("山西省", "140100", "太原市"),
    "150000": ("内蒙古自治区", "150100", "呼和浩特市"),
    "210000": ("辽宁省", "210100", "沈阳市"),
    "220000": ("吉林省", "220100", "长春市"),
    "230000": ("黑龙江省", "230100", "哈尔滨市"),
    "310000": ("上海市", "310100", "上海市"),
    "320000": ("江苏省", "320100", "南京市"),
    "330000": ("浙江省", "330100", "杭州市"),
    "340000": ("安徽省", "340100", "合肥市"),
    "350000": ("福建省", "350100", "福州市"),
    "360000": ("江西省", "360100", "南昌市"),
    "370000": ("山东省", "370100", "济南市"),
    "410000": ("河南省", "410100", "郑州市"),
    "420000": ("湖北省", "420100", "武汉市"),
    "430000": ("湖南省", "430100", "长沙市"),
    "440000": ("广东省", "440100", "广州市"),
    "450000": ("广西壮族自治区", "450100", "南宁市"),
    "460000": ("海南省", "460100", "海口市"),
    "500000": ("重庆市", "500100", "重庆市"),
    "510000": ("四川省", "510100", "成都市"),
    "520000": ("贵州省", "520100", "贵阳市"),
    "530000": ("云南省", "530100", "昆明市"),
    "540000": ("西藏自治区", "540100", "拉萨市"),
    "610000": ("陕西省", "610100", "西安市"),
    "620000": ("甘肃省", "620100", "兰州市"),
    "630000": ("青海省", "630100", "西宁市"),
    "640000": ("宁夏回族自治区", "640100", "银川市"),
    "650000": ("新疆维吾尔自治区", "650100", "乌鲁木齐市"),
}

_PORTALS: dict[str, str] = {
    "110000": "京通",
    "120000": "津心办",
    "130000": "冀时办",
    "310000": "随申办",
    "320000": "苏服办",
    "330000": "浙里办",
    "340000": "皖事通",
    "350000": "闽政通",
    "370000": "爱山东",
    "420000": "鄂汇办",
    "440000": "粤省事",
    "500000": "渝快办",
    "510000": "天府通办",
    "520000": "贵人服务",
}

# Department in the catalog → (code key, receiving unit, handling unit, data provider); each unit is
# (code suffix, name template). {city} is the capital, {full} the province's full name; units named
# after {full} sit at province level and take the province code.
_Unit = tuple[str, str]
_DEPARTMENTS: dict[str, tuple[str, _Unit, _Unit, _Unit]] = {
    "公安部门": ("GAJ", ("HZ", "{city}公安局户政窗口"), ("RK", "{city}公安局人口管理支队"),
             ("RKK", "{full}公安厅人口信息库")),
    "公安交管部门": ("JJZD", ("CGCK", "{city}公安局交警支队车管所受理窗口"), ("CGS", "{city}公安局交警支队车辆管理所"),
               ("JGXX", "{full}公安厅交通管理信息系统")),
    "人社部门": ("RSJ", ("CK", "{city}人力资源和社会保障局服务窗口"), ("SBZX", "{city}社会保险事业管理中心"),
             ("SBXX", "{full}社会保险信息系统")),
    "医保部门": ("YBJ", ("CK", "{city}医疗保障局经办窗口"), ("YBZX", "{city}医疗保障事业管理中心"),
             ("YBXX", "{full}医疗保障信息平台")),
    "住建/公积金中心": ("GJJ", ("FWDT", "{city}住房公积金管理中心服务大厅"), ("ZX", "{city}住房公积金管理中心"),
                 ("JGPT", "{full}住房公积金监管服务平台")),
    "市场监管部门": ("SCJ", ("DJCK", "{city}市场监督管理局登记窗口"), ("DJZC", "{city}市场监督管理局登记注册处"),
               ("ZTK", "{full}市场主体登记信息库")),
    "民政部门": ("MZJ", ("HYDJ", "{city}民政局婚姻登记处"), ("HYK", "{city}民政局婚姻登记管理科"),
             ("HYXX", "{full}婚姻登记信息系统")),
    "卫生健康部门": ("WJW", ("CK", "{city}政务服务中心卫生健康窗口"), ("SPC", "{full}卫生健康委员会食品安全标准处"),
               ("ZZK", "{full}电子证照库")),
}
_OTHER_DEPARTMENT: tuple[str, _Unit, _Unit, _Unit] = (
    "ZWFW",
    ("KSCK", "{city}政务服务中心跨省通办窗口"),
    ("SPJ", "{city}行政审批局"),
    ("SJZX", "{full}大数据中心"),
)


def place(province: str) -> Place:
    full, city_code, city = _CAPITALS.get(province, (PROVINCES[province], province, PROVINCES[province]))
    portal = _PORTALS.get(province, f"{PROVINCES[province]}政务服务网")
    return Place(province, PROVINCES[province], full, city_code, city, portal)


class OrgBook:
    """Org dicts ready for CaseEvent payloads, built once per (department, province, role)."""

    def __init__(self) -> None:
        self._orgs: dict[tuple[str, str, Role], dict[str, str]] = {}
        self._places: dict[str, Place] = {}

    def place(self, province: str) -> Place:
        found = self._places.get(province)
        if found is None:
            found = self._places[province] = place(province)
        return found

    def org(self, department: str, province: str, role: Role) -> dict[str, str]:
        key = (department, province, role)
        found = self._orgs.get(key)
        if found is None:
            found = self._orgs[key] = _build(department, self.place(province), role)
        return found


def _build(department: str, where: Place, role: Role) -> dict[str, str]:
    if role is Role.PLATFORM:
        code, name = f"{where.province}-ZWFW-PT", f"{where.full}政务服务网({where.portal})"
    elif role is Role.LOGISTICS:
        code, name = f"{where.city_code}-EMS-ZW", f"中国邮政速递物流{where.city}分公司(政务寄递)"
    else:
        key, receiving, handling, provider = _DEPARTMENTS.get(department, _OTHER_DEPARTMENT)
        suffix, template = {Role.RECEIVING: receiving, Role.HANDLING: handling}.get(role, provider)
        provincial = template.startswith("{full}")
        area = where.province if provincial else where.city_code
        code, name = f"{area}-{key}-{suffix}", template.format(city=where.city, full=where.full)
    return {"code": code, "name": name, "province": where.province, "role": role.value}
