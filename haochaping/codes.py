"""Fixed enumerations of the wire contracts (DESIGN.md section 2).

Portals, analysts and evaluation data are written against these codes; the
Chinese labels are what people read in reports and dashboards.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Level(IntEnum):
    """Five rating levels; level <= 2 is a 差评 (negative review)."""

    VERY_SATISFIED = 5
    SATISFIED = 4
    BASICALLY_SATISFIED = 3
    DISSATISFIED = 2
    VERY_DISSATISFIED = 1


NEGATIVE_LEVEL_MAX = 2

LEVEL_LABELS: dict[int, str] = {
    5: "非常满意",
    4: "满意",
    3: "基本满意",
    2: "不满意",
    1: "非常不满意",
}


def is_negative(level: int) -> bool:
    return level <= NEGATIVE_LEVEL_MAX


class Channel(StrEnum):
    PC = "pc"
    APP = "app"
    MINI_PROGRAM = "mini_program"
    WINDOW = "window"
    KIOSK = "kiosk"
    HOTLINE = "hotline"
    SMS = "sms"


class Mode(StrEnum):
    ONLINE = "online"
    PROXY = "proxy"
    JOINT = "joint"
    LOCAL = "local"


MODE_LABELS: dict[Mode, str] = {
    Mode.ONLINE: "全程网办",
    Mode.PROXY: "异地代收代办",
    Mode.JOINT: "多地联办",
    Mode.LOCAL: "本地办理",
}


class StepKind(StrEnum):
    """办理环节, in the usual order of a case."""

    GUIDE = "GUIDE"
    IDENTITY = "IDENTITY"
    APPLY = "APPLY"
    SUBMIT = "SUBMIT"
    ACCEPT = "ACCEPT"
    VERIFY = "VERIFY"
    DATA_SHARE = "DATA_SHARE"
    TRANSFER = "TRANSFER"
    REVIEW = "REVIEW"
    DECIDE = "DECIDE"
    PAYMENT = "PAYMENT"
    DELIVER = "DELIVER"
    NOTIFY = "NOTIFY"


STEP_LABELS: dict[str, str] = {
    "GUIDE": "办事指南/咨询",
    "IDENTITY": "身份认证",
    "APPLY": "在线申报/填表",
    "SUBMIT": "提交材料",
    "ACCEPT": "受理/收件",
    "VERIFY": "核验/原件核对",
    "DATA_SHARE": "数据共享/电子证照核验",
    "TRANSFER": "材料/数据流转(跨地传递)",
    "REVIEW": "审查/审核",
    "DECIDE": "决定/办结(时限)",
    "PAYMENT": "缴费",
    "DELIVER": "结果送达/发证/邮寄",
    "NOTIFY": "进度与结果告知",
    "JOURNEY": "全程(多环节往返)",
    "POLICY": "政策差异(非流程问题)",
    "UNKNOWN": "无法判定",
}


class AttributionLabel(StrEnum):
    """Attribution outcomes that are not process steps."""

    JOURNEY = "JOURNEY"
    POLICY = "POLICY"
    UNKNOWN = "UNKNOWN"


class Reason(StrEnum):
    """差评原因."""

    REPEAT_MATERIALS = "REPEAT_MATERIALS"
    STANDARD_MISMATCH = "STANDARD_MISMATCH"
    DATA_NOT_SHARED = "DATA_NOT_SHARED"
    ECERT_NOT_RECOGNISED = "ECERT_NOT_RECOGNISED"
    IDENTITY_FAIL = "IDENTITY_FAIL"
    NOT_AVAILABLE_ONLINE = "NOT_AVAILABLE_ONLINE"
    PROXY_ONLY = "PROXY_ONLY"
    WINDOW_INEFFECTIVE = "WINDOW_INEFFECTIVE"
    DELAY = "DELAY"
    DELIVERY_PROBLEM = "DELIVERY_PROBLEM"
    BUCK_PASSING = "BUCK_PASSING"
    MULTIPLE_TRIPS = "MULTIPLE_TRIPS"
    GUIDE_UNCLEAR = "GUIDE_UNCLEAR"
    ATTITUDE = "ATTITUDE"
    SYSTEM_ERROR = "SYSTEM_ERROR"
    NO_FEEDBACK = "NO_FEEDBACK"
    POLICY_DIFFERENCE = "POLICY_DIFFERENCE"
    OTHER = "OTHER"


REASON_LABELS: dict[str, str] = {
    "REPEAT_MATERIALS": "重复提交材料",
    "STANDARD_MISMATCH": "标准不一",
    "DATA_NOT_SHARED": "数据未共享",
    "ECERT_NOT_RECOGNISED": "电子证照不认",
    "IDENTITY_FAIL": "身份认证失败",
    "NOT_AVAILABLE_ONLINE": "不能网办",
    "PROXY_ONLY": "代办不通办",
    "WINDOW_INEFFECTIVE": "窗口形同虚设",
    "DELAY": "办理拖延/超时",
    "DELIVERY_PROBLEM": "送达问题",
    "BUCK_PASSING": "推诿扯皮",
    "MULTIPLE_TRIPS": "多次跑动",
    "GUIDE_UNCLEAR": "指南不清",
    "ATTITUDE": "服务态度",
    "SYSTEM_ERROR": "系统故障",
    "NO_FEEDBACK": "无反馈",
    "POLICY_DIFFERENCE": "政策差异",
    "OTHER": "其他",
}


class Role(StrEnum):
    """Role of an organisation in a case."""

    RECEIVING = "RECEIVING"
    HANDLING = "HANDLING"
    DATA_PROVIDER = "DATA_PROVIDER"
    PLATFORM = "PLATFORM"
    LOGISTICS = "LOGISTICS"


class Action(StrEnum):
    START = "start"
    COMPLETE = "complete"
    RETURN = "return"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    FAIL = "fail"


# Province-level divisions of GB/T 2260 (the first two digits, then 0000).
PROVINCES: dict[str, str] = {
    "110000": "北京",
    "120000": "天津",
    "130000": "河北",
    "140000": "山西",
    "150000": "内蒙古",
    "210000": "辽宁",
    "220000": "吉林",
    "230000": "黑龙江",
    "310000": "上海",
    "320000": "江苏",
    "330000": "浙江",
    "340000": "安徽",
    "350000": "福建",
    "360000": "江西",
    "370000": "山东",
    "410000": "河南",
    "420000": "湖北",
    "430000": "湖南",
    "440000": "广东",
    "450000": "广西",
    "460000": "海南",
    "500000": "重庆",
    "510000": "四川",
    "520000": "贵州",
    "530000": "云南",
    "540000": "西藏",
    "610000": "陕西",
    "620000": "甘肃",
    "630000": "青海",
    "640000": "宁夏",
    "650000": "新疆",
    "710000": "台湾",
    "810000": "香港",
    "820000": "澳门",
}
