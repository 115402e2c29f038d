"""Realistic Jining demo data: real department names, valid checksummed identifiers, no real people."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from tortoise.transactions import in_transaction

from models.account import Department, User, appoint_liaison, create_department, hash_password
from models.backflow import (
    ActionInput,
    ActionKind,
    OfflineChannel,
    push_action,
    record_action,
    record_offline_push,
)
from models.calendar import SHANGHAI, current_calendar
from models.catalogue import ApprovalItem, create_approval_item
from models.claim import claim_push
from models.decision import DecisionPush
from models.enums import AdminLevel, CounterpartyKind, DepartmentKind, Role
from models.identifiers import make_citizen_id, make_credit_code
from models.inquiry import InquiryTopic, send_inquiry
from models.issuance import CounterpartyInput, DecisionInput, issue_decision
from models.notice import NoticeInput, NoticeKind, send_notice

DEMO_PASSWORD = "Demo-Jining-2026"
CITY = ("370800", "济宁市")
COUNTIES = [
    ("370811", "任城区"),
    ("370812", "兖州区"),
    ("370826", "微山县"),
    ("370827", "鱼台县"),
    ("370828", "金乡县"),
    ("370829", "嘉祥县"),
    ("370830", "汶上县"),
    ("370831", "泗水县"),
    ("370832", "梁山县"),
    ("370881", "曲阜市"),
    ("370883", "邹城市"),
]
SUPERVISION = [
    ("SCJG", "市场监督管理局"),
    ("ZJ", "住房和城乡建设局"),
    ("YJ", "应急管理局"),
    ("WJ", "卫生健康委员会"),
    ("SHJ", "生态环境局"),
    ("JT", "交通运输局"),
    ("ZRZY", "自然资源和规划局"),
    ("WL", "文化和旅游局"),
    ("JY", "教育局"),
    ("NY", "农业农村局"),
    ("SW", "商务局"),
    ("SWJ", "水务局"),
    ("RS", "人力资源和社会保障局"),
    ("MZ", "民政局"),
    ("CG", "城市管理局"),
]
# item, supervising department key, commitment-based, joint inspection, legal basis
ITEMS = [
    ("食品经营许可", "SCJG", True, False, "《中华人民共和国食品安全法》第三十五条"),
    ("食品生产许可", "SCJG", False, True, "《中华人民共和国食品安全法》第三十五条"),
    ("药品零售企业经营许可", "SCJG", False, False, "《中华人民共和国药品管理法》第五十一条"),
    ("建筑工程施工许可证核发", "ZJ", False, False, "《中华人民共和国建筑法》第七条"),
    ("建设工程消防设计审查", "ZJ", False, True, "《中华人民共和国消防法》第十一条"),
    ("危险化学品经营许可", "YJ", False, True, "《危险化学品安全管理条例》第三十三条"),
    ("烟花爆竹经营（零售）许可", "YJ", False, False, "《烟花爆竹安全管理条例》第三条"),
    ("公共场所卫生许可", "WJ", True, False, "《公共场所卫生管理条例》第八条"),
    ("医疗机构执业登记", "WJ", False, True, "《医疗机构管理条例》第十四条"),
    ("排污许可", "SHJ", False, False, "《排污许可管理条例》第二条"),
    ("道路旅客运输经营许可", "JT", False, False, "《中华人民共和国道路运输条例》第十条"),
    ("道路货物运输经营许可", "JT", True, False, "《中华人民共和国道路运输条例》第二十四条"),
    ("娱乐场所经营许可", "WL", False, False, "《娱乐场所管理条例》第九条"),
    ("旅行社设立许可", "WL", False, False, "《旅行社条例》第六条"),
    ("民办学校办学许可", "JY", False, True, "《中华人民共和国民办教育促进法》第十二条"),
    ("农药经营许可", "NY", False, False, "《农药管理条例》第二十四条"),
    ("取水许可", "SWJ", False, False, "《取水许可和水资源费征收管理条例》第二条"),
    ("人力资源服务许可", "RS", False, False, "《人力资源市场暂行条例》第十八条"),
    ("建设用地规划许可证核发", "ZRZY", False, False, "《中华人民共和国城乡规划法》第三十七条"),
    ("城市建筑垃圾处置核准", "CG", False, False, "《城市建筑垃圾管理规定》第七条"),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["建国", "秀英", "志强", "海燕", "立新", "晓东", "丽娜", "文博", "春梅", "国庆", "子涵", "宇航"]
COMPANY = ["鲁兴", "孔孟", "运河", "泗河", "微湖", "圣地", "儒乡", "尼山"]
TRADE = [
    "餐饮管理有限公司",
    "食品有限公司",
    "大药房连锁有限公司",
    "建设工程有限公司",
    "化工贸易有限公司",
    "物流有限公司",
    "文化传媒有限公司",
    "旅行社有限公司",
]


@dataclass
class SeedResult:
    created: bool
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if not self.created:
            return "演示数据已存在，未重复加载"
        return "已加载演示数据：" + "，".join(f"{k} {v}" for k, v in self.counts.items())


def demo_logins() -> list[tuple[str, str]]:
    return [
        ("jn_sp_officer", "市行政审批服务局经办人"),
        ("jn_scjg_officer", "市市场监督管理局经办人"),
        ("jn_scjg_liaison", "市市场监督管理局联络员"),
        ("jn_sp_leader", "市行政审批服务局领导"),
    ]


async def ensure_admin(username: str, password: str) -> bool:
    """Create the platform administrator (in the city approval bureau) unless it exists."""
    if await User.filter(username=username).exists():
        return False
    home = await Department.filter(code="JN-SP").first()
    if home is None:
        home = await create_department(
            code="PLATFORM",
            name="审管互动平台运维",
            kind=DepartmentKind.APPROVAL,
            level=AdminLevel.CITY,
            region_code=CITY[0],
            parent_id=None,
        )
    await User.create(
        username=username,
        password_hash=hash_password(password),
        display_name="平台管理员",
        department_id=home.id,
        roles=[Role.ADMIN.value],
    )
    return True


async def _departments() -> dict[str, Department]:
    made: dict[str, Department] = {}
    city = await create_department(
        code="JN-SP",
        name="济宁市行政审批服务局",
        kind=DepartmentKind.APPROVAL,
        level=AdminLevel.CITY,
        region_code=CITY[0],
        parent_id=None,
    )
    made["JN-SP"] = city
    for key, name in SUPERVISION:
        made[f"JN-{key}"] = await create_department(
            code=f"JN-{key}",
            name=f"济宁市{name}",
            kind=DepartmentKind.SUPERVISION,
            level=AdminLevel.CITY,
            region_code=CITY[0],
            parent_id=None,
        )
    for region, county in COUNTIES:
        made[f"{region}-SP"] = await create_department(
            code=f"{region}-SP",
            name=f"{county}行政审批服务局",
            kind=DepartmentKind.APPROVAL,
            level=AdminLevel.COUNTY,
            region_code=region,
            parent_id=city.id,
        )
        for key, name in SUPERVISION:
            made[f"{region}-{key}"] = await create_department(
                code=f"{region}-{key}",
                name=f"{county}{name}",
                kind=DepartmentKind.SUPERVISION,
                level=AdminLevel.COUNTY,
                region_code=region,
                parent_id=made[f"JN-{key}"].id,
            )
    return made


async def _users(depts: dict[str, Department], now: datetime) -> dict[str, User]:
    digest = hash_password(DEMO_PASSWORD)
    specs = [
        ("jn_sp_officer", "孙明", "JN-SP", [Role.OFFICER]),
        ("jn_sp_liaison", "周婷", "JN-SP", [Role.OFFICER, Role.LIAISON]),
        ("jn_sp_leader", "吴国栋", "JN-SP", [Role.LEADER]),
        ("jn_sp_system", "审批业务系统接口", "JN-SP", [Role.INTEGRATION]),
        ("jn_scjg_officer", "郑凯", "JN-SCJG", [Role.OFFICER]),
        ("jn_scjg_liaison", "冯雪", "JN-SCJG", [Role.OFFICER, Role.LIAISON]),
        ("jn_yj_officer", "陈晨", "JN-YJ", [Role.OFFICER]),
        ("rc_sp_officer", "刘洋", "370811-SP", [Role.OFFICER]),
        ("rc_scjg_officer", "赵磊", "370811-SCJG", [Role.OFFICER]),
    ]
    users: dict[str, User] = {}
    for username, display, dept, roles in specs:
        users[username] = await User.create(
            username=username,
            password_hash=digest,
            display_name=display,
            department_id=depts[dept].id,
            roles=sorted(r.value for r in roles),
        )
    admin_like = User(id=0, department_id=0, roles=[Role.ADMIN.value])
    for username, title, phone in (
        ("jn_sp_liaison", "政务服务科科长", "13853712345"),
        ("jn_scjg_liaison", "综合科副科长", "13905371234"),
    ):
        user = users[username]
        await appoint_liaison(
            admin_like, department_id=user.department_id, user_id=user.id, title=title, phone=phone, now=now
        )
    return users


async def _items(depts: dict[str, Department]) -> list[ApprovalItem]:
    items = []
    for n, (name, key, commitment, joint, basis) in enumerate(ITEMS, start=1):
        supervisors = [depts[f"JN-{key}"].id] + [depts[f"{region}-{key}"].id for region, _ in COUNTIES]
        items.append(
            await create_approval_item(
                code=f"370800-XK-{n:03d}",
                name=name,
                legal_basis=basis,
                commitment_based=commitment,
                joint_inspection=joint,
                supervising_department_ids=supervisors,
            )
        )
    return items


def _counterparty(rng: random.Random, n: int) -> CounterpartyInput:
    region = rng.choice([CITY[0], *(r for r, _ in COUNTIES)])
    if n % 3 == 0:
        birth = f"{rng.randint(1960, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        return CounterpartyInput(
            name=name,
            kind=CounterpartyKind.PERSON,
            id_number=make_citizen_id(region, birth, n),
            phone=f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
            address=f"山东省济宁市{rng.choice(['太白湖', '琵琶山', '红星'])}路{n}号",
        )
    body = f"91{region}MA{rng.randint(0, 9)}{''.join(rng.choice('0123456789ABCDEFGHJKLMNPQRTUWXY') for _ in range(7))}"
    name = f"济宁{rng.choice(COMPANY)}{rng.choice(TRADE)}"
    return CounterpartyInput(
        name=name,
        kind=CounterpartyKind.ORGANIZATION,
        credit_code=make_credit_code(body[:17]),
        contact_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
        phone=f"0537-{rng.randint(2000000, 3999999)}",
        address=f"济宁市高新区{n}号",
    )


async def _decisions(users: dict[str, User], items: list[ApprovalItem], now: datetime, count: int) -> int:
    """Decisions over the last four weeks: some claimed in time, some late, some still open or overdue."""
    rng = random.Random(2026)
    calendar = await current_calendar()
    officer = users["jn_sp_officer"]
    claimer = users["jn_scjg_officer"]
    made = 0
    for n in range(1, count + 1):
        day = now.date() - timedelta(days=rng.randint(0, 27))
        when = datetime.combine(day, time(rng.randint(9, 16), rng.randint(0, 59)), SHANGHAI)
        item = items[n % 3] if n % 2 else rng.choice(items)
        data = DecisionInput(
            item_id=item.id,
            document_number=f"济审批许字〔{day.year}〕{n:04d}号",
            content=f"经审查，准予{item.name}。",
            approved_on=day,
            counterparty=_counterparty(rng, n),
            valid_from=day,
            valid_until=day.replace(year=day.year + 5),
        )
        decision, _ = await issue_decision(officer, data, now=when)
        made += 1
        if item.name.startswith(("食品", "药品")) and n % 4 != 0:
            lag = rng.choice([0, 1, 2, 5])
            claim_day = calendar.add_working_days(day, lag) if lag else day
            claim_at = max(datetime.combine(claim_day, time(10, 30), SHANGHAI), when + timedelta(hours=1))
            if claim_at < now:
                for push in await DecisionPush.filter(decision_id=decision.id, department_id=claimer.department_id):
                    await claim_push(claimer, push.id, now=claim_at)
    return made


async def _flows(users: dict[str, User], now: datetime) -> dict[str, int]:
    """A little of each coordination flow, so that every screen has something to show.

    Two supervision actions pushed back about decisions the market regulator received (one through the
    platform, one by official letter), a formal notice asking to revoke one of them, and an inquiry
    on an item's standard that the market regulator still owes an answer to.
    """
    supervisor, approval = users["jn_scjg_officer"], users["jn_sp_officer"]
    received = await DecisionPush.filter(department_id=supervisor.department_id).order_by("pushed_at").limit(2)
    decision_ids = [p.decision_id for p in received]
    calendar = await current_calendar()
    penalty_day = calendar.previous_workday(calendar.previous_workday(now.date()))
    counts = {"监管信息": 0, "函告": 0, "征询函": 0}
    for n, (decision_id, kind) in enumerate(
        zip(decision_ids, (ActionKind.FINE, ActionKind.RECTIFICATION_ORDER), strict=False)
    ):
        action = await record_action(
            supervisor,
            ActionInput(
                kind=kind,
                penalty_document_number=f"济市监处罚〔{penalty_day.year}〕{n + 101}号",
                penalty_decided_on=penalty_day,
                content="经查，当事人未按规定公示许可信息，责令改正并处罚款。"
                if n == 0
                else "责令限期整改后厨卫生条件。",
                decision_ids=[decision_id],
            ),
            now=now - timedelta(hours=3),
        )
        if n == 0:
            await push_action(supervisor, action.id, now=now - timedelta(hours=2))
        else:
            await record_offline_push(
                supervisor,
                action.id,
                channel=OfflineChannel.OFFICIAL_LETTER,
                reference=f"济市监函〔{penalty_day.year}〕27号",
                pushed_on=penalty_day,
                now=now - timedelta(hours=1),
            )
        counts["监管信息"] += 1
    if decision_ids:
        await send_notice(
            supervisor,
            NoticeInput(
                decision_id=decision_ids[0],
                kind=NoticeKind.REVOKE,
                reasons="当事人以提供虚假材料取得许可，建议依法撤销该许可决定。",
                document_number=f"济市监函〔{penalty_day.year}〕31号",
            ),
            now=now - timedelta(minutes=30),
        )
        counts["函告"] += 1
    await send_inquiry(
        approval,
        receiver_ids=[supervisor.department_id],
        topic=InquiryTopic.ITEM_STANDARD,
        subject="关于食品经营许可现场核查标准的征询",
        body="请贵局就小型餐饮单位现场核查的具体标准提出意见，以便统一审批尺度。",
        now=now - timedelta(minutes=10),
    )
    counts["征询函"] += 1
    return counts


async def seed_demo(decisions: int = 40) -> SeedResult:
    """Load the demo set into an empty database (does nothing when departments already exist)."""
    if await Department.filter(code="JN-SP").exists():
        return SeedResult(created=False)
    now = datetime.now(SHANGHAI)
    async with in_transaction():
        depts = await _departments()
        users = await _users(depts, now)
        items = await _items(depts)
        made = await _decisions(users, items, now, decisions)
        flows = await _flows(users, now)
    counts = {"部门": len(depts), "用户": len(users), "事项": len(items), "审批决定": made, **flows}
    return SeedResult(created=True, counts=counts)
