"""Stories a comment tells across its clauses: a hand-off lost between two sides, offices sending the
citizen back and forth, a notice that never came for a step already done, an online service that
needs a visit.

Data and a small matcher; tracing/reading.py adds what a story names to the comment's reading.
Each story is a kind of complaint, written as a pattern over the normalised comment (never a
single phrase from one review), so it holds for wordings nobody tuned it to. Patterns stay inside
one sentence unless they say otherwise.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from haochaping.tracing.lexicon import JOURNEY, NUMBER, POLICY, Weighted

# Inside one sentence: anything but a sentence end (commas and spaces are allowed).
_S = r"[^。！？!?\n]"
# The other side of a cross-province service: another province, the place one came from.
_ELSEWHERE = (
    "(北京|天津|河北|山西|内蒙|辽宁|吉林|黑龙江|上海|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|广西|"
    "海南|重庆|四川|贵州|云南|西藏|陕西|甘肃|青海|宁夏|新疆|外省|外地|省外|老家|原籍|户籍地|异地|那边|对方|"
    "迁出地|转出地|参保地|原单位|另一个省|两地|两个省)"
)
_NOT = "(没|没有|不|未|无|冇|唔|木有)"
_LOOKUP_FAILS = (
    "(查不到|查询不到|查不出|查不了|查不全|看不到|看不见|调不出|调不到|调不了|没有记录|没有.{0,6}记录|不显示|"
    "系统里没有|系统上没有|电脑上没有|系统查询不到|无法核验|核验不了|不能核验|没有同步|不同步|一点都没有|没有显示|没显示|"
    "未查询到|未查到|查无|没查到)"
)
# A thing sent from one side: materials, an application, funds.
_SENT = "(推送|转|寄|发|传|移交|转出|划转|转移|递)(过去|出去|出|走|了|到|来|过来)"
_NOT_ARRIVED = (
    "(没收到|没有收到|未收到|没看到|没有看到|没见到|没到账|没到|根本没有|查不到|看不到|没这个|没有这个|说没有|说没|"
    "系统里没有|系统上没有|没接收|未接收|还是零)"
)
_SAY = "(说|讲|话|称|叫我|让我|要我|喊我|支我|让)"
_GO = "(去|找|回)"
_DONE = (
    "(办结|办好|办完|办妥|落好|做好|批下来|批了|审批同意|同意了|通过了|不通过|没通过|被退回|退回|退件|驳回|"
    "已经好了|早就好了|出来了|打印好)"
)
_TOLD = "(通知|告诉|告知|推送|说一声|讲一声|联系我|打电话|发短信|信儿|信息|提醒|消息)"
_ONLINE = "(网上|线上|网办|全程网办|在线|小程序|app|网上申请|网上说|手机上)"
_ORIGINALS = "(原件|核对|核验|验证|验正|验原|查验|看原件|对原件|签字|按手印|面签)"
_VISIT = "(现场|柜台|窗口|本人到场|本人去|跑一趟|跑一次|亲自|回去|过去|到场)"


NEAR = 12  # characters before a match that `not_near` also looks at

# What reaches the citizen rather than another office: a lost or late result is DELIVER.
_RESULTS = r"(证件|身份证|驾驶证|驾照|执照|户口本|户口簿|结婚证|社保卡|新证|证书|卡片)"


# Records that do not arrive are a data lookup (DATA_SHARE), not a hand-off of papers.
_RESULTS_OR_RECORDS = _RESULTS[:-1] + "|记录|数据)"


class Story(NamedTuple):
    """One kind of complaint that spans clauses."""

    name: str  # shown in the evidence: story:<name>
    regex: str
    anchors: tuple[str, ...]  # the comment must hold a character of every one (a cheap pre-test)
    labels: Weighted
    reasons: Weighted
    unless: tuple[str, ...] = ()  # stories that, when also told, explain this one better
    # Steps the story mentions as its setting (where it began, the step already done): their own
    # words count less once the story says where the fault lies.
    setting: tuple[str, ...] = ()
    not_near: str = ""  # a regex that, found in the match or just before it, means another story


STORIES: tuple[Story, ...] = (
    # 这边说早就推送过去了，那边说没收到: the hand-off, whichever side the story starts at.
    Story(
        "handoff_lost",
        rf"{_SENT}{_S}{{0,60}}{_NOT_ARRIVED}",
        ("推转寄发传移划递", "没未根查看"),
        (("TRANSFER", 1.5),),
        (("DELAY", 0.6),),
        setting=("ACCEPT", "SUBMIT", "DELIVER", "DATA_SHARE"),
        not_near=_RESULTS,
    ),
    Story(
        "handoff_lost",
        rf"{_NOT_ARRIVED}{_S}{{0,40}}(早就|已经|早已)?{_SENT}",
        ("没未根查看", "推转寄发传移划递"),
        (("TRANSFER", 1.5),),
        (("DELAY", 0.6),),
        setting=("ACCEPT", "SUBMIT", "DELIVER", "DATA_SHARE"),
        not_near=_RESULTS,
    ),
    Story(
        "funds_in_transit",
        r"(划转中|资金划转|钱卡在|卡在半路|在半路|钱.{0,4}在路上|到账|在途)",
        ("划钱半账",),
        (("TRANSFER", 1.2),),
        (("DELAY", 0.8),),
    ),
    # A说找B，B说找A (or three offices round in a circle): sent back and forth.
    Story(
        "back_and_forth",
        rf"({_SAY}[^，。！？,!?\s]{{0,6}}{_GO}{_S}{{0,24}}){{2,}}",
        ("说讲话称让叫要喊支",),
        ((JOURNEY, 1.3),),
        (("BUCK_PASSING", 1.0),),
        ("handoff_lost",),
        setting=("ACCEPT", "TRANSFER", "GUIDE"),
    ),
    # A说要B先…，B又说要A先: each side waits for the other.
    Story(
        "back_and_forth",
        rf"{_SAY}{_S}{{0,10}}先{_S}{{0,24}}{_SAY}{_S}{{0,10}}先",
        ("先",),
        ((JOURNEY, 1.3),),
        (("BUCK_PASSING", 1.0),),
        ("handoff_lost",),
        setting=("ACCEPT", "TRANSFER", "GUIDE"),
    ),
    Story(
        "back_and_forth",
        r"(踢来踢去|踢嚟踢去|支来支去|推来推去|转了一圈|转一圈|一圈转下来|绕了一圈|来回踢|互相推|两头推|来回推|"
        r"推过来推过去|踢皮球|都说不归|每个都说|鸡生蛋|传话筒|夹在中间|夹在两|夹喺中间|互相等|互相卡)",
        ("踢支推转绕圈每都鸡传夹",),
        ((JOURNEY, 1.3),),
        (("BUCK_PASSING", 1.0),),
        ("handoff_lost",),  # two sides blaming each other over a lost hand-off: the hand-off
        setting=("ACCEPT", "TRANSFER", "GUIDE"),
    ),
    # A record or certificate another province holds, which the office cannot look up.
    Story(
        "record_elsewhere",
        rf"{_ELSEWHERE}{_S}{{0,30}}{_LOOKUP_FAILS}",
        ("查看调没不系电无核对同",),
        (("DATA_SHARE", 1.3),),
        (("DATA_NOT_SHARED", 1.0),),
        ("handoff_lost",),  # 那边说早就发了，这边说系统里没有: the hand-off, not a lookup
        setting=("SUBMIT", "ACCEPT", "GUIDE", "PAYMENT"),
    ),
    Story(
        "record_elsewhere",
        rf"{_LOOKUP_FAILS}{_S}{{0,20}}{_ELSEWHERE}",
        ("查看调没不系电无核对同",),
        (("DATA_SHARE", 1.3),),
        (("DATA_NOT_SHARED", 1.0),),
        ("handoff_lost",),  # 那边说早就发了，这边说系统里没有: the hand-off, not a lookup
        setting=("SUBMIT", "ACCEPT", "GUIDE", "PAYMENT"),
    ),
    Story(
        "ecert_refused",
        r"电子.{0,16}(不认|不予认可|不被认可|不承认|识别不了|无法识别|无法核验|核验不了|核验不通过|核验失败|"
        r"不能用|用不了|不好使|不行)",
        ("电",),
        (("DATA_SHARE", 1.4),),
        (("ECERT_NOT_RECOGNISED", 1.2),),
    ),
    Story(
        "ecert_refused",
        rf"电子(证|照|版|驾|身份|营业|签|不动产|结婚|户口|社保|医保){_S}{{0,30}}(纸质|复印件|扫描件|实体)",
        ("电", "纸复扫实"),
        (("DATA_SHARE", 1.2),),
        (("ECERT_NOT_RECOGNISED", 1.2),),
    ),
    # The reason for a refusal not given: the answer lacked what the citizen needed to know.
    Story(
        "reason_not_given",
        r"(理由|原因|依据|点解|为啥|为什么)[^。！？!?\n]{0,10}"
        r"(不说|没说|也不说|不讲|唔讲|没写|冇写|都冇|未列明|没列|没有列|仅显示|只写|就写|含糊)",
        ("理原依点为", "不没唔冇都未仅只就含"),
        (),
        (("NO_FEEDBACK", 1.2),),
    ),
    # 说是全程网办，最后还得带原件去柜台核对: online in name, a visit to check originals.
    Story(
        "online_needs_visit",
        rf"{_ONLINE}{_S}{{0,50}}{_ORIGINALS}",
        ("网线在小a手", "原核验查看对签按面"),
        (("VERIFY", 1.0),),
        (("NOT_AVAILABLE_ONLINE", 0.8),),
        ("guide_silent", "guide_contradicted"),
        setting=("APPLY", "SUBMIT", "ACCEPT"),
    ),
    Story(
        "online_needs_visit",
        rf"{_ONLINE}{_S}{{0,50}}(还得|还要|非要|必须|只能|让我|要我|叫我|最后){_S}{{0,8}}{_VISIT}",
        ("网线在小a手", "现柜窗本跑亲回过到"),
        (),
        (("NOT_AVAILABLE_ONLINE", 1.0),),
        setting=("APPLY", "SUBMIT", "ACCEPT"),
    ),
    # A step already done and nobody said so: the notice is the complaint, not the step.
    Story(
        "done_untold",
        rf"{_DONE}{_S}{{0,24}}{_NOT}(人|有|任何|个)?{_S}{{0,2}}{_TOLD}",
        ("办落做批同通退驳好出打", "没不未无冇唔木"),
        (("NOTIFY", 1.4),),
        (("NO_FEEDBACK", 1.0),),
        setting=("DECIDE", "REVIEW", "DELIVER", "ACCEPT"),
    ),
    Story(
        "done_untold",
        rf"{_NOT}(人|有|任何)?{_TOLD}{_S}{{0,24}}{_DONE}",
        ("没不未无冇唔木", "办落做批同通退驳好出打"),
        (("NOTIFY", 1.4),),
        (("NO_FEEDBACK", 1.0),),
        setting=("DECIDE", "REVIEW", "DELIVER", "ACCEPT"),
    ),
    Story(
        "done_untold",
        rf"(早就|早已|其实早|早)(就|都|已经)?(办好|办完|办结|批了|批下来|好了|落好|出来|审批同意|同意)"
        rf"|{_DONE}{_S}{{0,20}}(自己|才|先)(发现|知道|看到|查到|登[入录陆]{_S}{{0,6}}(发现|看到))"
        rf"|(才知道|才发现|才得知)(早就|已经|早)?{_S}{{0,4}}{_DONE}",
        ("早办落做批同通退驳好出打",),
        (("NOTIFY", 1.2),),
        (("NO_FEEDBACK", 1.0),),
        setting=("DECIDE", "REVIEW", "DELIVER", "ACCEPT"),
    ),
    Story(
        "notice_without_content",
        rf"(不通过|没通过|退回|驳回|办结|已办结|短信|通知|消息){_S}{{0,20}}"
        rf"(为啥|为什么|原因|理由|领取方式|怎么领|去哪领|过了还是没过){_S}{{0,8}}"
        rf"(不说|没说|也不说|不告诉|没写|没告知|未告知|不讲|没讲|\?)",
        ("通退驳办短消", "为原理领怎去过"),
        (("NOTIFY", 1.3),),
        (("NO_FEEDBACK", 1.0),),
    ),
    Story(
        "notice_without_content",
        r"(就一句|只有一句|仅显示|只显示|就几个字|就这么几个字)",
        ("句显字",),
        (("NOTIFY", 1.0),),
        (("NO_FEEDBACK", 0.8),),
    ),
    # The review passed, the decision does not come: the step after review is late.
    Story(
        "decision_late",
        rf"(审核|审查|审批|材料)(都|已经|已|早就)?(过了|通过){_S}{{0,30}}(迟迟|还没|一直没|却|又等|不出|没出|待办结|等)",
        ("审材", "过"),
        (("DECIDE", 1.4),),
        (("DELAY", 1.0),),
        setting=("REVIEW", "NOTIFY"),
    ),
    Story(
        "decision_late",
        r"(待办结|待出证|待备案|还没办结|迟迟不(出具|出|给|发|办结)|就差.{0,6}(结果|办结|出证|决定|备案号))",
        ("待还迟就",),
        (("DECIDE", 1.3),),
        (("DELAY", 1.0),),
        setting=("REVIEW", "NOTIFY"),
    ),
    # Still under review long past the promise (审核中已逾三十个工作日): the review is late,
    # even if nobody called either.
    Story(
        "review_overdue",
        rf"(审核中|审查中|审批中|在审|待审核|审核阶段|(迁出地|转出地|迁入地|转入地|对方|那边)审核)"
        rf"{_S}{{0,40}}(超|逾|过了|已经|一直|至今|还是|依然|仍|没有变化|没变|没动)",
        ("审", "超逾过已一至还依仍没"),
        (("REVIEW", 1.3),),
        (("DELAY", 1.0),),
        setting=("NOTIFY", "ACCEPT"),
    ),
    # A document the citizen printed or downloaded that is no use (no seal, blank).
    Story(
        "result_unusable",
        rf"(打印|打出来|打的|下载|开出来|开具的|出来的|拿到的){_S}{{0,16}}"
        r"(没[有盖]?[章印]|没有电子章|没电子章|空白|白板|打不开|是空的)",
        ("打下开出拿", "章印空白开"),
        (("DELIVER", 1.3),),
        (("SYSTEM_ERROR", 0.8),),
    ),
    # A rule of the province, not a process fault: the office only applies it.
    Story(
        "rule_applied",
        r"(按规定|这是政策|是政策|政策规定|规定就是|规定就这样|规定如此|没办法.{0,4}规定|不合并计算|不能合并|"
        r"不累计|不予累计|只认一部分|只认.{0,6}(年|月)|只认那|只认几|分数线|积分落户|落户条件|享受不了|"
        r"不在(里面|范围|目录)|不属于.{0,6}范围|要有房|有房才|名额|按.{0,4}标准|条件太|不让提|差分|统筹|"
        r"比.{0,6}少(那么多|很多|好几)|待遇.{0,4}(低|少))",
        ("规政合累认分积落享",),
        ((POLICY, 1.3),),
        (("POLICY_DIFFERENCE", 1.0),),
    ),
    # Money paid once and asked for again, a payment that does not go through.
    Story(
        "payment_failed",
        # Paying for the service and something going wrong with it; 缴费 alone in 社保 stories is the
        # contributions (缴费年限, 中断缴费), not a payment step.
        r"(交|缴|付)了[^。！？!?\n]{0,6}(钱|费)[^。！？!?\n]{0,24}(又|再|两次|重复|没|未|不|退)"
        r"|(钱|费用|工本费)[^。！？!?\n]{0,6}(交|缴|付)了[^。！？!?\n]{0,24}(又|再|两次|重复|没|未|不|退)"
        r"|扫码.{0,6}(付|支付|缴|交)|订单超时|现金不收|不收现金|只收现金|只能扫码|只能现金"
        r"|(缴|交|付)(不了|不上|不进去)|(交钱|交费|缴费|付钱)的(地方|窗口)",
        ("钱费码订现扫缴交付",),
        (("PAYMENT", 1.1),),
        (),
    ),
    # 说是代收代办，最后还得本人回老家: collected here, and the trip was still needed.
    Story(
        "proxy_then_trip",
        rf"(代收|代办|收了材料|材料收了|把材料|帮我寄){_S}{{0,40}}(还是|还得|最后|结果){_S}{{0,10}}"
        rf"(回|去|跑){_S}{{0,6}}(老家|户籍地|那边|原籍|一趟|本人)",
        ("代收材帮", "还最结", "回去跑"),
        ((JOURNEY, 1.4),),
        (("PROXY_ONLY", 1.2),),
        (),
        ("ACCEPT", "TRANSFER", "DELIVER"),
    ),
    # The guide or list said one thing, the window another: the guide was wrong.
    Story(
        "guide_contradicted",
        r"(指南|清单|须知|墙上贴|上面写|贴的)[^。！？!?\n]{0,50}"
        r"(到了|到窗口|实际|结果|又说|才被告知|才知道|才说|取消|不一样|不符|不是一回事|白准备|白跑)",
        ("指清须墙上贴", "到实结又才取不白"),
        (("GUIDE", 1.4),),
        (("GUIDE_UNCLEAR", 1.2),),
        (),
        ("ACCEPT", "VERIFY", "SUBMIT", JOURNEY),
    ),
    # What the portal's pages said, then the window said otherwise; with a visit to check
    # originals it is the online service that fell short instead (online_needs_visit).
    Story(
        "online_said_otherwise",
        r"(网上写|网上说|网上看)[^。！？!?\n]{0,50}(到了|到窗口|实际|又说|才被告知|才知道|才说|不一样|不符|白准备|白跑)",
        ("网", "到实又才不白"),
        (("GUIDE", 1.2),),
        (("GUIDE_UNCLEAR", 1.0),),
        ("online_needs_visit",),
        ("ACCEPT", "VERIFY", "SUBMIT", JOURNEY),
    ),
    # 指南上根本没写这条: what the guide leaves out is the guide's fault, whatever came next.
    Story(
        "guide_silent",
        r"(指南|清单|须知|页面写|上面写|写的)[^。！？!?\n]{0,30}(根本|也|都|一个字都|只字)?(没写|没有写|没提|未提|没说明|没注明|没列|没说)",
        ("指清须页上写", "没未"),
        (("GUIDE", 1.6),),
        (("GUIDE_UNCLEAR", 1.2),),
        (),
        ("ACCEPT", "VERIFY", "SUBMIT", JOURNEY),
    ),
    # Two offices that want different things for the same case: their standards differ.
    Story(
        "standards_differ",
        rf"(两边|两地|两个地方|两个省|这边和那边|两家){_S}{{0,12}}(不一样|不一致|不同|各不相同|对不上)",
        ("两", "不对各"),
        (("REVIEW", 1.2),),
        (("STANDARD_MISMATCH", 1.0),),
        (),
        ("ACCEPT", "SUBMIT", "DATA_SHARE", "TRANSFER"),
        r"(政策|待遇|比例|规定|规矩|指南|清单)",  # rules differing are POLICY, guides differing GUIDE
    ),
    # Two provinces' guides or lists asking for different papers: the guidance is at fault.
    Story(
        "guides_differ",
        rf"(指南|清单|须知){_S}{{0,30}}(不一样|不一致|不同|对不上|不统一)",
        ("指清须", "不对"),
        (("GUIDE", 1.4),),
        (("STANDARD_MISMATCH", 1.0),),
        (),
        ("REVIEW", "SUBMIT", "ACCEPT"),
    ),
    # Two places, two sets of rules: a policy difference, not a process fault.
    Story(
        "rules_differ",
        rf"(两边|两地|两个地方|两个省|这边|老家|那边){_S}{{0,30}}(规矩|规定|政策|要求|条件){_S}{{0,6}}(不一样|不同|不一致)"
        rf"|两套规矩|两套规定|两套政策|待遇期|等待期"
        rf"|{_ELSEWHERE}(要求|规定|需要){_S}{{0,24}}{_ELSEWHERE}(不要|不用|不需要|没这个要求)",
        ("两这老那待等北天河山内辽吉黑上江浙安福山湖广海重四贵云西陕甘青宁新外省原户异对迁转参", "规政要条期需"),
        ((POLICY, 1.4),),
        (("POLICY_DIFFERENCE", 1.0),),
        (),
        ("REVIEW", "TRANSFER", "ACCEPT", "SUBMIT"),
    ),
    # A time limit promised at one step and long passed: the decision is late, not that step.
    Story(
        "promise_broken",
        rf"(说|说好|承诺|写着|告知|答应){_S}{{0,4}}{NUMBER}个?(工作日|天|周|个月){_S}{{0,30}}"
        r"(现在|都|已经|还没|还是|至今|过了)",
        ("说承写告答", "日天周月"),
        (("DECIDE", 1.3),),
        (("DELAY", 1.0),),
        (),
        ("ACCEPT", "SUBMIT", "DELIVER", "NOTIFY"),
    ),
    # 网上申请→去窗口核验→回老家开证明→再去窗口: an itinerary is the whole trip.
    Story(
        "itinerary",
        r"([^→]{1,20}(→|->|—>|=>)){3,}",
        ("→>",),
        ((JOURNEY, 1.5),),
        (("MULTIPLE_TRIPS", 1.0),),
        (),
        ("APPLY", "VERIFY", "SUBMIT", "ACCEPT"),
    ),
    # Materials handed in here, and the other side says nothing arrived.
    Story(
        "handoff_lost",
        rf"(材料|申请|档案|资料|联系函|手续){_S}{{0,30}}{_ELSEWHERE}{_S}{{0,8}}{_NOT_ARRIVED}",
        ("材申档资联手", "没未根查看"),
        (("TRANSFER", 1.5),),
        (("DELAY", 0.6),),
        (),
        ("ACCEPT", "SUBMIT", "DELIVER", "DATA_SHARE"),
    ),
    # A booking made online that the office does not have.
    Story(
        "booking_lost",
        rf"(预约|约的|约好|约了){_S}{{0,24}}(没有|查不到|找不到|不显示|没显示){_S}{{0,8}}(预约|记录|信息)?",
        ("约", "没查找不"),
        (("ACCEPT", 1.2),),
        (("SYSTEM_ERROR", 1.0),),
        (),
        ("DATA_SHARE", "APPLY"),
    ),
    # 结果出来了连个提醒都没有: the notice that never came, said after the fact.
    Story(
        "done_untold",
        rf"(连个|连一个|连条|一个|任何)?{_TOLD}{_S}{{0,3}}(都没有|也没有|都没|也没|全无|都不发|也不发)",
        ("通告推说讲联打发信提消", "没无不"),
        (("NOTIFY", 1.3),),
        (("NO_FEEDBACK", 1.0),),
        (),
        ("DECIDE", "REVIEW", "DELIVER", "ACCEPT"),
    ),
    # 从申请到拿证跑了四回: the whole trip.
    Story(
        "whole_trip",
        rf"从{_S}{{0,10}}到{_S}{{0,10}}(跑|来回|折腾|奔波)",
        ("从", "到", "跑来折奔"),
        ((JOURNEY, 1.3),),
        (("MULTIPLE_TRIPS", 1.0),),
        (),
        ("APPLY", "DELIVER", "ACCEPT"),
    ),
    Story(
        "online_needs_visit",
        rf"{_ORIGINALS}{_S}{{0,30}}{_ONLINE}",
        ("原核验查看对签按面", "网线在小a手"),
        (("VERIFY", 1.0),),
        (("NOT_AVAILABLE_ONLINE", 0.8),),
        (),
        ("APPLY", "SUBMIT", "ACCEPT"),
    ),
    # 打12345问…转了三个部门没一个讲得清楚: the consultation, not a journey.
    Story(
        "consult_runaround",
        rf"(问|咨询|12345|打电话|热线){_S}{{0,30}}转了{NUMBER}个?(部门|人|电话|科室|窗口){_S}{{0,20}}"
        r"(清楚|明白|一样|知道)",
        ("问咨12打热", "转", "清明一知"),
        (("GUIDE", 1.5),),
        (("GUIDE_UNCLEAR", 1.2),),
        (),
        (JOURNEY, "ACCEPT"),
    ),
    # 消息说已办结，点进去又是审核中: the status the citizen is shown contradicts itself.
    Story(
        "status_contradicts",
        r"(显示|写着?|消息|短信|状态|一会)[^。！？!?\n]{0,16}(已办结|办结|通过|审核中|退回|办理中|处理中)"
        r"[^。！？!?\n]{0,16}(又是|又显示|却显示|却是|一会|变成|又变)[^。！？!?\n]{0,6}"
        r"(已办结|办结|通过|审核中|退回|办理中|处理中|不通过)",
        ("显写消短状一", "又却一变"),
        (("NOTIFY", 1.5),),
        (("SYSTEM_ERROR", 0.8),),
        (),
        ("REVIEW", "DECIDE"),
    ),
    # 已受理三天了，后面就没动过: accepted, and the review never started.
    Story(
        "stuck_after_intake",
        rf"(已受理|受理了|受理后|受理完|受里完|受里了){_S}{{0,20}}(就没动|没动过|没动静|没变过|没有变化|一直没|一直不动|就没|没人管)",
        ("受", "没"),
        (("REVIEW", 1.2),),
        (("DELAY", 1.0),),
        (),
        ("ACCEPT", "APPLY", "NOTIFY"),
    ),
    # 转出地已发起，转入地那头一点动静都没有: the hand-off, told by its two ends.
    Story(
        "handoff_lost",
        rf"(转出|发起|已转出|寄出|推送|发出){_S}{{0,30}}(转入地|迁入地|那头|那边|对方){_S}{{0,10}}"
        r"(没动静|没反应|没有动静|动静都没|没消息|一点动静)",
        ("转发寄推", "没动"),
        (("TRANSFER", 1.5),),
        (("DELAY", 0.6),),
        (),
        ("ACCEPT", "SUBMIT", "NOTIFY", "DATA_SHARE"),
    ),
    # Each side's answer the opposite of the other's.
    Story(
        "back_and_forth",
        rf"(两边|两地|两个部门|两家){_S}{{0,8}}(说法|答复|回答|口径){_S}{{0,6}}(相反|矛盾|打架)",
        ("两", "相矛打"),
        ((JOURNEY, 1.3),),
        (("BUCK_PASSING", 1.0),),
        (),
        ("ACCEPT", "TRANSFER", "GUIDE"),
    ),
    # 窗口说要先去四川开个未落户证明: a proof the other province's records should have given.
    Story(
        "proof_from_elsewhere",
        rf"(回|去|到){_ELSEWHERE}{_S}{{0,6}}(开|打印|打|办)(个|一个|张|一张)?{_S}{{0,8}}(证明|凭证|记录)",
        ("回去到", "开打办", "证凭记"),
        (("DATA_SHARE", 1.2),),
        (("DATA_NOT_SHARED", 1.0),),
        (),
        ("ACCEPT", "SUBMIT", "VERIFY", "GUIDE"),
    ),
    # A record missing years paid in another province.
    Story(
        "record_elsewhere",
        rf"(少了|缺了|漏了|没有){_S}{{0,10}}{_ELSEWHERE}{_S}{{0,10}}(交的|缴的|那几年|那两年|的记录|参保)",
        ("少缺漏没", "交缴年记参"),
        (("DATA_SHARE", 1.3),),
        (("DATA_NOT_SHARED", 1.0),),
        ("handoff_lost",),
        setting=("SUBMIT", "ACCEPT", "GUIDE", "PAYMENT", "DELIVER"),
    ),
    # The money arrived, the status still says in progress.
    Story(
        "status_contradicts",
        r"(早就|已经|早已)(到账|办好|办完|批了|通过|收到)[^。！？!?\n]{0,20}(状态|显示|上面|app上|页面)"
        r"[^。！？!?\n]{0,6}(还是|仍是|还显示|依然|还在)[^。！？!?\n]{0,4}(受理中|审核中|办理中|处理中|未)",
        ("早已", "还仍依"),
        (("NOTIFY", 1.5),),
        (("SYSTEM_ERROR", 0.8),),
        (),
        ("REVIEW", "DECIDE", "TRANSFER", "ACCEPT"),
    ),
    # Conditions set for people from other provinces (外省户口要居住证): the province's rules.
    Story(
        "outsider_condition",
        r"(外省户口|外地户口|非本地户口|外地人|外省人|外省的|不是这里的人|不是本地人)[^。！？!?\n]{0,30}"
        r"(要|需要|必须|得)(提供|有|满|先办)",
        ("外非不", "要需必得"),
        ((POLICY, 1.2),),
        (("POLICY_DIFFERENCE", 1.0),),
        (),
        ("ACCEPT", "SUBMIT", "DECIDE"),
    ),
    # 这边说那边不注销不能迁，那边说这边不变更不能办: each side blocks on the other.
    Story(
        "back_and_forth",
        rf"{_SAY}{_S}{{0,12}}(不能|不行|不给|办不了){_S}{{0,20}}{_SAY}{_S}{{0,12}}(不能|不行|不给|办不了)",
        ("说讲话称让叫要喊支", "不办"),
        ((JOURNEY, 1.3),),
        (("BUCK_PASSING", 1.0),),
        ("handoff_lost",),
        ("ACCEPT", "TRANSFER", "GUIDE", "REVIEW"),
    ),
)


class StoryTable:
    """The stories compiled once; `find` returns (story, start, end) for each story told."""

    def __init__(self) -> None:
        self.compiled = [
            (
                story,
                re.compile(story.regex),
                tuple(frozenset(anchor) for anchor in story.anchors),
                re.compile(story.not_near) if story.not_near else None,
            )
            for story in STORIES
        ]

    def find(self, text: str) -> list[tuple[Story, int, int]]:
        present = set(text)
        found: dict[str, tuple[Story, int, int]] = {}
        for story, regex, anchors, not_near in self.compiled:
            if story.name in found or any(anchor.isdisjoint(present) for anchor in anchors):
                continue
            match = regex.search(text)
            if match is None:
                continue
            if not_near is not None and not_near.search(text, max(0, match.start() - NEAR), match.end()):
                continue
            found[story.name] = (story, match.start(), match.end())  # once, however it is told
        return [told for told in found.values() if not any(name in found for name in told[0].unless)]


@lru_cache(maxsize=1)
def story_table() -> StoryTable:
    return StoryTable()
