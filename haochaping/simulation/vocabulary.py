"""Words citizens use in 好差评 comments, per step and reason; data only, no logic.

comments.py composes these into sentences; the pain points follow the seeds (重复提交, 电子证照不认,
代办不通办, 窗口成摆设, 材料流转慢, 多地跑/折返跑, 报销比例不同).

Placeholders: {dur} a duration, {times} how many times, {trips} how many trips, {other} the other
province's side, {home} the citizen's home province, {here} this side, {material} a document of
the matter, {office} the local office, {matter} what the citizen was doing, {portal} the
province's app, {limit} the step's limit in days, {step} a word for the step; {here_name} and
{home_name} are the bare place names.
"""

from __future__ import annotations

from haochaping.codes import Reason, StepKind

S = StepKind
R = Reason

# What the citizen was doing, by matter code.
MATTER_WORDS: dict[str, tuple[str, ...]] = {
    "HCP-GA-HKQY": ("迁户口", "办户口迁移", "户口迁移"),
    "HCP-GA-XSEDJ": ("给孩子上户口", "新生儿落户", "给宝宝报户口"),
    "HCP-GA-SFZBL": ("补办身份证", "异地补领身份证", "补身份证"),
    "HCP-YB-JYBA": ("异地就医备案", "办就医备案", "医保备案"),
    "HCP-RS-YLZY": ("转社保", "养老保险转移", "转养老保险关系"),
    "HCP-YB-GXZY": ("转医保", "医保关系转移", "医保转移接续"),
    "HCP-GJJ-ZYTQ": ("转公积金", "提取公积金", "公积金异地转移"),
    "HCP-SJ-YXBG": ("公司变更登记", "办公司跨区迁移", "企业变更登记"),
    "HCP-SJ-GTKY": ("办个体执照", "个体户开业登记", "办营业执照"),
    "HCP-RS-CBZM": ("开社保证明", "打参保证明", "开参保证明"),
    "HCP-MZ-HYDJ": ("领结婚证", "办结婚登记", "婚姻登记"),
    "HCP-RS-JYSY": ("失业登记", "办就业登记", "就业失业登记"),
    "HCP-WJ-SPBZ": ("企业标准备案", "食品企业标准备案"),
    "HCP-JG-JZHZ": ("换驾照", "驾驶证换证", "换驾驶证"),
}

MATERIALS: dict[str, tuple[str, ...]] = {
    "HCP-GA-HKQY": ("准迁证", "户口簿", "房产证", "结婚证"),
    "HCP-GA-XSEDJ": ("出生医学证明", "户口簿", "结婚证", "父母身份证"),
    "HCP-GA-SFZBL": ("户口簿", "照片回执", "户籍证明"),
    "HCP-YB-JYBA": ("参保凭证", "居住证", "备案表"),
    "HCP-RS-YLZY": ("参保缴费凭证", "转移联系函", "社保卡"),
    "HCP-YB-GXZY": ("参保凭证", "转移接续申请表", "医保卡"),
    "HCP-GJJ-ZYTQ": ("离职证明", "购房合同", "不动产权证", "缴存证明"),
    "HCP-SJ-YXBG": ("营业执照", "股东会决议", "章程修正案", "住所证明"),
    "HCP-SJ-GTKY": ("经营场所证明", "租赁合同", "身份证复印件"),
    "HCP-RS-CBZM": ("社保卡", "身份证"),
    "HCP-MZ-HYDJ": ("户口簿", "身份证", "居住证", "户籍证明"),
    "HCP-RS-JYSY": ("解除劳动合同证明", "身份证", "居住证"),
    "HCP-WJ-SPBZ": ("企业标准文本", "检验报告", "营业执照"),
    "HCP-JG-JZHZ": ("体检证明", "驾驶证", "照片"),
}
GENERIC_MATERIALS = ("证明材料", "身份证复印件", "户口簿")

# What people call the local office, by catalog department.
OFFICE_WORDS: dict[str, tuple[str, ...]] = {
    "公安部门": ("派出所", "户籍窗口", "公安局"),
    "公安交管部门": ("车管所",),
    "人社部门": ("社保局", "人社局"),
    "医保部门": ("医保局", "医保中心"),
    "住建/公积金中心": ("公积金中心",),
    "市场监管部门": ("市场监管局", "工商局"),
    "民政部门": ("民政局", "婚姻登记处"),
    "卫生健康部门": ("卫健委",),
}
GENERIC_OFFICE = ("窗口", "政务服务中心")

# Words for a step when no specific sentence fits.
STEP_WORDS: dict[StepKind, tuple[str, ...]] = {
    S.GUIDE: ("咨询", "办事指南"),
    S.IDENTITY: ("身份认证", "实名认证"),
    S.APPLY: ("网上申报", "填表"),
    S.SUBMIT: ("交材料", "上传材料"),
    S.ACCEPT: ("受理", "窗口受理"),
    S.VERIFY: ("核对原件", "材料核验"),
    S.DATA_SHARE: ("信息核验", "数据核验"),
    S.TRANSFER: ("材料流转", "材料传递"),
    S.REVIEW: ("审核", "审批"),
    S.DECIDE: ("办结", "出结果"),
    S.PAYMENT: ("缴费", "交费"),
    S.DELIVER: ("寄证", "邮寄", "发证"),
    S.NOTIFY: ("通知", "进度告知"),
}

# The complaint itself, per (step, reason).
CORE: dict[tuple[StepKind, Reason], tuple[str, ...]] = {
    (S.GUIDE, R.GUIDE_UNCLEAR): (
        "办事指南写得不清不楚，到了现场才知道还要{material}",
        "网上的指南和窗口说的不一样，白跑一趟",
        "咨询了{times}，每个人说的都不一样",
        "指南上根本没写要{material}",
        "打电话咨询，说得含含糊糊的，到底要带什么也没说清楚",
        "指南太笼统了，看了半天不知道去哪办",
        "问了{office}又问{other}，谁也说不清要准备什么",
    ),
    (S.GUIDE, R.STANDARD_MISMATCH): (
        "两个省的办事指南要求不一样，{here}要{material}，{other}又不要",
        "{other}的指南和{here}的对不上，不知道听谁的",
        "同一个事项两地指南写的材料都不一样",
    ),
    (S.IDENTITY, R.IDENTITY_FAIL): (
        "身份认证一直失败，人脸识别识别不了",
        "刷脸刷了{times}都不通过",
        "实名认证老是提示信息不一致",
        "人脸识别一直过不了，最后只能去窗口",
        "外省的身份信息核验不了，认证卡了{dur}",
        "{portal}上认证总说身份信息不匹配，我是{home}的身份证就不行吗",
        "身份核验过不去，后面什么都办不了",
    ),
    (S.IDENTITY, R.SYSTEM_ERROR): (
        "认证页面一直转圈，根本进不去",
        "{portal}登录不了，验证码一直收不到",
        "实名认证的系统老是崩",
    ),
    (S.APPLY, R.SYSTEM_ERROR): (
        "网上填表填到一半系统崩了，又要重新填",
        "{portal}申报一直提交不了，提示系统异常",
        "申请页面老是报错，试了{times}",
        "点提交就闪退，填了{times}才提交上",
    ),
    (S.APPLY, R.NOT_AVAILABLE_ONLINE): (
        "说是全程网办，结果网上提交不了，还得去现场",
        "网上根本找不到这个事项，最后还是跑了窗口",
        "{portal}上显示可以网办，点进去却说要线下办理",
    ),
    (S.APPLY, R.GUIDE_UNCLEAR): (
        "申请表太复杂，好多项看不懂怎么填",
        "网上填表没有任何说明，填错了也不提示",
    ),
    (S.SUBMIT, R.REPEAT_MATERIALS): (
        "同样的材料交了{times}",
        "{material}明明已经交过了，又让重新交一遍",
        "材料上传了{times}，每次都说不清晰",
        "已经有的{material}还要再交，数据不能共享吗",
    ),
    (S.SUBMIT, R.SYSTEM_ERROR): (
        "材料上传一直失败",
        "附件传不上去，文件大一点就报错",
        "交材料的时候系统卡死了，折腾了{times}",
    ),
    (S.ACCEPT, R.DELAY): (
        "排队排了一上午才受理",
        "交了材料{dur}了还显示待受理",
        "受理都拖了{dur}，更别说后面了",
        "材料交上去{dur}都没人受理",
    ),
    (S.ACCEPT, R.WINDOW_INEFFECTIVE): (
        "跨省通办窗口就是个摆设，说办不了",
        "窗口的人说没办过这个业务，不知道怎么弄",
        "专窗形同虚设，问什么都说不清楚",
        "跨省通办的牌子挂着，实际上根本办不了",
        "{office}的人说系统里没有{matter}这一项",
    ),
    (S.ACCEPT, R.PROXY_ONLY): (
        "窗口只收材料，最后还是得回{home}跑一趟",
        "说是异地代办，其实就是帮忙收一下材料，还得本人回{home}",
        "代办不通办，{here}收了材料，{other}又让本人过去",
        "异地代收代办，收完就不管了",
    ),
    (S.ACCEPT, R.ATTITUDE): (
        "窗口工作人员态度很差，问两句就不耐烦",
        "窗口的人爱理不理的",
        "工作人员一直在玩手机，叫了半天才理人",
        "{office}窗口的人说话很冲",
    ),
    (S.ACCEPT, R.BUCK_PASSING): (
        "窗口说这事归{other}管，让我去找{other}",
        "{here}说不归他们管，{other}说要在{here}办，来回推",
        "{office}不给受理，让回{home}办",
    ),
    (S.VERIFY, R.REPEAT_MATERIALS): (
        "核对原件的时候又让补{material}，之前没人说",
        "原件核对了{times}，每次都说缺东西",
        "复印件交了原件还要再看{times}",
    ),
    (S.VERIFY, R.ECERT_NOT_RECOGNISED): (
        "电子证照对方不认，非要纸质的",
        "{portal}里有电子{material}，窗口不认，还得去开纸质证明",
        "电子版的{material}说没有效力，让回{home}开纸质的",
        "亮证也不行，非要原件",
    ),
    (S.VERIFY, R.ATTITUDE): (
        "核对材料的工作人员态度恶劣",
        "核原件的时候被训了一顿，态度太差",
    ),
    (S.DATA_SHARE, R.DATA_NOT_SHARED): (
        "系统查不到{home}的信息，让我自己回去开证明",
        "两地数据不通，{material}还得自己去开",
        "说是数据共享，结果{other}的数据调不过来，卡了{dur}",
        "信息核验一直失败，说{other}没返回数据",
        "{other}的记录这边查不到，只能自己跑回去打证明",
    ),
    (S.DATA_SHARE, R.ECERT_NOT_RECOGNISED): (
        "电子证照核验不通过，非要纸质原件",
        "{other}的电子证照这边调不出来",
        "电子{material}核验不了，说两边证照库没打通",
    ),
    (S.DATA_SHARE, R.SYSTEM_ERROR): (
        "数据接口老出问题，核验了{times}都失败",
        "核验系统一直显示超时",
    ),
    (S.TRANSFER, R.DELAY): (
        "材料在两地之间传了{dur}，打电话问都说不知道",
        "材料寄过去{dur}了，{other}说还没收到",
        "光材料流转就用了{dur}，说好的跨省通办呢",
        "材料在路上走了{dur}，中间没人管",
        "两边交接太慢了，{dur}材料才到{other}",
        "{here}说材料早就转走了，{other}过了{dur}才收到",
    ),
    (S.TRANSFER, R.BUCK_PASSING): (
        "材料转过去又被退回来，两边互相推",
        "{other}说材料不全退回来了，{here}又说已经齐了",
        "材料在两个地方之间来回转，谁都不负责",
        "{here}和{other}踢皮球，材料转了两回",
    ),
    (S.TRANSFER, R.NO_FEEDBACK): (
        "材料寄出去以后就没消息了，也查不到进度",
        "问材料到哪了，{here}说寄了，{other}说没收到",
        "材料转走{dur}了，一点消息都没有",
    ),
    (S.REVIEW, R.DELAY): (
        "审批拖了{dur}",
        "{other}审核太慢，{dur}了还在审",
        "审核拖拖拉拉，{dur}都没结果",
        "一直显示审核中，{dur}了也没人处理",
        "{other}那边审批拖了{dur}",
    ),
    (S.REVIEW, R.STANDARD_MISMATCH): (
        "两地审核标准不一样，{here}说可以{other}说不行",
        "{other}审核又提了新要求，跟{here}说的不一样",
        "同一个事两个省要求不一样，{material}又不符合{other}的要求",
        "{here}窗口收的时候说没问题，到了{other}审核就说不合格",
    ),
    (S.REVIEW, R.REPEAT_MATERIALS): (
        "审核的时候又让补{material}，之前已经交过了",
        "退回来让补材料，补的还是之前交过的{material}",
        "审核退回来{times}，每次要的东西都不一样",
    ),
    (S.REVIEW, R.BUCK_PASSING): (
        "{other}说应该{here}审，{here}说{other}审，踢皮球",
        "审核的时候两边互相推，没人拍板",
    ),
    (S.DECIDE, R.DELAY): (
        "早就超过承诺时限了，还没办结",
        "说好{limit}个工作日办结，结果拖了{dur}",
        "审批完了迟迟不出结果，又等了{dur}",
        "办结时间一拖再拖",
    ),
    (S.DECIDE, R.NO_FEEDBACK): (
        "办没办好也不告诉一声，{dur}了没有任何回复",
        "提交{dur}了，结果一直不出来，也没人解释",
    ),
    (S.PAYMENT, R.SYSTEM_ERROR): (
        "缴费一直失败，扣了钱显示未缴费",
        "支付页面打不开，缴个费折腾半天",
        "交工本费的时候系统出错，交了{times}",
    ),
    (S.DELIVER, R.DELIVERY_PROBLEM): (
        "结果邮寄寄错地址了",
        "证件寄丢了，快递也查不到",
        "说好邮寄到家，等了{dur}还没收到",
        "快递单号查不到物流信息",
        "{material}寄到别的地方去了，又得重新寄",
        "邮寄地址填得清清楚楚还能寄错",
    ),
    (S.DELIVER, R.DELAY): (
        "审批通过了，证却迟迟不发，等了{dur}",
        "办好了等了{dur}才拿到",
        "说是办结了，拿到手又过了{dur}",
    ),
    (S.DELIVER, R.PROXY_ONLY): (
        "办完了还得本人回{home}领证，那异地办有什么意义",
        "证件不能寄，只能回{home}领",
    ),
    (S.NOTIFY, R.NO_FEEDBACK): (
        "办理进度一直不更新，也没有任何通知",
        "办好了也不通知，还是我自己打电话问才知道",
        "短信通知迟了{dur}，差点耽误事",
        "{portal}上查进度一直是空的",
    ),
}

# For a (step, reason) pair without sentences of its own (e.g. an incident's unusual reason).
BY_REASON: dict[Reason, tuple[str, ...]] = {
    R.DELAY: ("{step}拖了{dur}", "{step}太慢了，等了{dur}", "{step}超时了也没人管"),
    R.SYSTEM_ERROR: ("{step}的时候系统一直报错", "{step}老是失败，系统太不稳定"),
    R.REPEAT_MATERIALS: ("{step}又让交一遍{material}", "{step}的时候同样的材料又要了{times}"),
    R.STANDARD_MISMATCH: ("{step}两地标准不一样", "{step}的要求{here}和{other}说的不一致"),
    R.DATA_NOT_SHARED: ("{step}查不到数据，让自己去开证明", "{step}的时候说{other}的数据调不过来"),
    R.ECERT_NOT_RECOGNISED: ("{step}不认电子证照", "{step}非要纸质的{material}"),
    R.IDENTITY_FAIL: ("{step}的时候身份核验不过", "{step}要重新认证，一直认证失败"),
    R.NOT_AVAILABLE_ONLINE: ("网上办不了，还得跑现场", "{step}网上做不了"),
    R.PROXY_ONLY: ("{here}只管收，{step}还得回{home}",),
    R.WINDOW_INEFFECTIVE: ("窗口说办不了{matter}", "{step}的时候窗口一问三不知"),
    R.DELIVERY_PROBLEM: ("{step}出了问题，东西一直没收到",),
    R.BUCK_PASSING: ("{step}两边互相推", "{step}的时候{here}推给{other}"),
    R.GUIDE_UNCLEAR: ("{step}说不清楚到底要什么", "{step}没人讲明白"),
    R.ATTITUDE: ("{step}的工作人员态度差", "{step}的时候被呛了几句"),
    R.NO_FEEDBACK: ("{step}没有任何反馈", "{step}之后就没下文了"),
    R.OTHER: ("{step}有问题",),
}

# The whole trip (MULTIPLE_TRIPS → JOURNEY).
JOURNEY: tuple[str, ...] = (
    "跑了{trips}，每次都说还差东西",
    "前前后后跑了{trips}，{home}和{here}来回跑",
    "折返跑，{here}跑完跑{other}",
    "说是最多跑一次，结果跑了{trips}",
    "为了{matter}请了好几天假，来回跑了{trips}",
    "一件事跑了{trips}，跨省通办也没少跑",
    "两个省来回跑，车票都花了好几百",
    "多地跑，哪边都说要对方先出证明",
)

# Policy differences (POLICY_DIFFERENCE → POLICY), by department, then for any matter.
POLICY: dict[str, tuple[str, ...]] = {
    "医保部门": (
        "两地报销比例不一样，在{here}看病报得太少了",
        "异地就医报销比例比{home}低太多",
        "起付线两边不一样，算下来吃亏",
        "在{here}住院报销比例才这么点，政策太不合理",
    ),
    "人社部门": (
        "转过来以后待遇算法不一样，少了一截",
        "两地缴费基数不一样，转过来吃亏了",
        "养老保险转移只转统筹的一部分，政策不合理",
    ),
    "住建/公积金中心": (
        "两地公积金提取政策不一样，{here}能取{other}不让取",
        "异地公积金贷款额度比本地低，不公平",
    ),
}
POLICY_ANY: tuple[str, ...] = (
    "两个地方政策不一样，吃亏的是老百姓",
    "政策规定太死了，不合理",
    "同样的事两个省规定不一样，这是政策问题",
)

# Vague complaints: the comment names no step, the timeline has to tell.
VAGUE: dict[str, tuple[str, ...]] = {
    "breach": ("太慢了", "效率太低了", "等太久了", "办个事怎么这么慢", "拖太久了", "不满意，太慢", "时间太长了"),
    "return": ("太折腾了", "麻烦死了", "不满意", "来来回回的，烦"),
    "fail": ("老是失败", "一直出错", "用不了", "不满意"),
    "silent": ("不满意", "差评", "很失望", "体验不好"),
}
UNKNOWN: tuple[str, ...] = ("不满意", "差评", "很失望", "不好", "体验不好", "不推荐", "太差了")

OPENERS: tuple[str, ...] = (
    "{matter}，",
    "在{here_name}办{matter}，",
    "跨省{matter}，",
    "第一次用跨省通办{matter}，",
    "人在{here_name}，{matter}，",
    "帮家里人{matter}，",
    "为了{matter}，",
    "我是{home_name}人，在{here_name}工作，{matter}，",
)
CLOSERS: tuple[str, ...] = (
    "。",
    "！",
    "！！",
    "，希望改进。",
    "，太失望了。",
    "，体验很差。",
    "，差评。",
    "，这叫什么跨省通办？",
    "，还不如自己回去办。",
    "，打12345反映也没用。",
    "，能不能提高点效率？",
    "，耽误了好多事。",
    "，希望两地好好对接一下。",
    "，不是说不用跑吗？",
    "，真的很无语。",
    "，麻烦死了。",
    "。建议整改。",
    "，请相关部门重视。",
)

# Praise for an earlier step, before "but" and the complaint about a later one.
CONTRAST: dict[StepKind, tuple[str, ...]] = {
    S.GUIDE: ("咨询的时候说得挺清楚", "指南写得挺明白"),
    S.IDENTITY: ("刷脸认证挺顺利", "实名认证一次就过了"),
    S.APPLY: ("网上申请倒是挺方便", "填表很快"),
    S.SUBMIT: ("材料一次就交上去了", "上传材料挺顺利"),
    S.ACCEPT: ("受理很快", "窗口受理挺快的", "窗口态度还行"),
    S.VERIFY: ("核对材料很快", "原件核对挺顺利"),
    S.DATA_SHARE: ("信息核验很快",),
    S.TRANSFER: ("材料很快就转过去了",),
    S.REVIEW: ("审核还算快",),
    S.DECIDE: ("审批挺快",),
    S.PAYMENT: ("缴费也方便",),
}
BUT: tuple[str, ...] = ("，但是", "，可是", "，就是", "，结果", "。但是", "，但")

PRAISE: tuple[str, ...] = (
    "办事效率高", "工作人员很耐心", "不用跑腿", "在家就办好了", "跨省通办真方便", "不用回老家了",
    "材料一次就齐了", "很快就办好了", "流程简单", "服务很好", "点赞", "很满意", "窗口工作人员很热情",
    "指导得很仔细", "比以前方便多了", "省了来回的路费", "全程网上办，很方便", "手机上就能办",
    "进度随时能查", "一次都没跑", "服务态度好", "解决了大问题", "少跑了好几趟", "工作人员主动帮忙填表",
    "速度很快", "办得很顺利", "好评", "非常满意", "专窗服务好", "两地配合得很好", "效率比预想的高",
    "{dur}就办好了", "在{here}就办了{home}的事", "{portal}很好用",
)
PRAISE_ENDS: tuple[str, ...] = ("", "！", "。", "，点赞！", "，谢谢！", "，给政府点赞")

# Level 3 (基本满意) after something went wrong: a mild remark, not a 差评.
MILD: tuple[str, ...] = (
    "还行，就是{step}慢了点",
    "总体可以，{step}有点折腾",
    "基本满意，希望{step}再快一点",
    "一般吧，等得有点久",
    "办是办好了，过程有点曲折",
)

HOTLINE_PREFIX: tuple[str, ...] = ("打12345反映：", "通过热线反映，", "12345：", "")
HOTLINE_PRAISE: tuple[str, ...] = (
    "接线员很耐心", "问题很快就解决了", "12345回复很及时", "帮我联系了{other}，很快就办好了",
    "热线帮忙协调，不用跑了", "回访很及时",
)

# Level 3 (基本满意) without anything going wrong.
NEUTRAL: tuple[str, ...] = ("一般", "还可以", "凑合吧", "流程还能再简化", "还行吧", "中规中矩")
