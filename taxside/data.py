"""Realistic demo data: names, ID numbers, credit codes, unit numbers, agencies.

Shared by the bulk generator and the simulation API (hires). Everything draws from a
``random.Random`` passed in, so a seed gives the same data every time.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from rules.codes import USCC_CHARSET, id_check_char, uscc_check_char

ITEMS = ("pension", "medical", "unemployment", "injury", "maternity")
ITEM_NAMES = {
    "pension": "企业职工基本养老保险",
    "medical": "职工基本医疗保险",
    "unemployment": "失业保险",
    "injury": "工伤保险",
    "maternity": "生育保险",
}
NUMBER_KINDS = ("medical", "pension", "unemployment", "injury")
KIND_NAMES = {
    "medical": "医疗保险单位编号",
    "pension": "养老保险单位编号",
    "unemployment": "失业保险单位编号",
    "injury": "工伤保险单位编号",
}
ID_TYPE_RESIDENT = "201"  # 居民身份证
STATUS_NORMAL = "正常缴费"
STATUS_STOPPED = "停止缴费"

# Surnames weighted roughly by frequency (the top ones cover most of the population).
SURNAMES = (
    "王" * 30 + "李" * 29 + "张" * 27 + "刘" * 21 + "陈" * 17 + "杨" * 13 + "黄" * 9 + "赵" * 9
    + "吴" * 8 + "周" * 8 + "徐" * 6 + "孙" * 6 + "马" * 6 + "朱" * 5 + "胡" * 5 + "郭" * 5
    + "何" * 4 + "高" * 4 + "林" * 4 + "罗" * 4 + "郑" * 4 + "梁" * 3 + "谢" * 3 + "宋" * 3
    + "唐" * 3 + "许" * 3 + "韩" * 2 + "冯" * 2 + "邓" * 2 + "曹" * 2 + "彭" * 2 + "曾" * 2
    + "肖" * 2 + "田" * 2 + "董" * 2 + "袁" * 2 + "潘" + "于" + "蒋" + "蔡" + "余" + "杜" + "叶"
    + "程" + "苏" + "魏" + "吕" + "丁" + "任" + "沈" + "姚" + "卢" + "姜" + "崔" + "钟" + "谭"
    + "陆" + "汪" + "范" + "金" + "石" + "廖" + "贾" + "夏" + "韦" + "付" + "方" + "白" + "邹"
    + "孟" + "熊" + "秦" + "邱" + "江" + "尹" + "薛" + "闫" + "段" + "雷" + "侯" + "龙" + "史"
)
DOUBLE_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫")
MALE_CHARS = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欣博文轩然泽睿哲晨阳昊天志建国"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀英慧婷雪琳晶燕玲桂红梅莉兰萍倩颖洁怡佳欣悦璐瑶涵诗雨梦琪晓月"
NEUTRAL_CHARS = "子一思嘉新安雅可心海云春秋"

# Real administrative area codes (GB/T 2260): districts of the three regions and common
# birthplaces elsewhere, so ID numbers look like those of a real workforce.
AREAS = {
    "110000": ("110101", "110102", "110105", "110106", "110107", "110108", "110111", "110112"),
    "310000": ("310101", "310104", "310105", "310106", "310107", "310109", "310110", "310115"),
    "140000": ("140105", "140106", "140107", "140108", "140109", "140110", "140202", "140302"),
}
OTHER_BIRTHPLACES = (
    "130102", "130203", "410105", "410302", "320102", "320506", "370102", "370202",
    "510104", "420102", "430102", "340102", "360102", "230102", "220102", "210102",
)
REGION_NAMES = {"110000": "北京市", "310000": "上海市", "140000": "山西省"}
DISTRICT_NAMES = {
    "110101": "东城区", "110102": "西城区", "110105": "朝阳区", "110106": "丰台区",
    "110107": "石景山区", "110108": "海淀区", "110111": "房山区", "110112": "通州区",
    "310101": "黄浦区", "310104": "徐汇区", "310105": "长宁区", "310106": "静安区",
    "310107": "普陀区", "310109": "虹口区", "310110": "杨浦区", "310115": "浦东新区",
    "140105": "小店区", "140106": "迎泽区", "140107": "杏花岭区", "140108": "尖草坪区",
    "140109": "万柏林区", "140110": "晋源区", "140202": "大同市平城区", "140302": "阳泉市城区",
}
# Base ranges (元/月) per region: floor..cap of the current base year (docs/DOMAIN.md).
BASE_RANGES = {"110000": (7162, 35811), "310000": (7460, 37302), "140000": (4113, 20564)}

COMPANY_WORDS = (
    "华信", "东方", "宏达", "恒通", "瑞丰", "金桥", "远航", "博远", "新源", "鼎盛", "中科",
    "永安", "昌盛", "汇智", "天成", "嘉禾", "启明", "泰和", "众合", "万象", "安捷", "润泽",
)
COMPANY_TRADES = (
    "科技", "信息技术", "建筑工程", "商贸", "物流", "餐饮管理", "医药", "机械制造", "文化传媒",
    "物业管理", "教育咨询", "环保工程", "电子", "食品", "软件", "人力资源服务",
)
COMPANY_FORMS = ("有限公司", "有限责任公司", "股份有限公司")
GOV_NAMES = ("人民政府办公室", "教育局", "财政局", "卫生健康委员会", "统计局", "档案馆")
REGISTRATION_TYPES = ("有限责任公司", "其他有限责任公司", "股份有限公司", "私营有限责任公司", "外商投资企业")


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str
    gender: str
    birth_date: str


def person_name(rng: random.Random, male: bool) -> str:
    surname = rng.choice(DOUBLE_SURNAMES) if rng.random() < 0.005 else rng.choice(SURNAMES)
    pool = MALE_CHARS if male else FEMALE_CHARS
    given = rng.choice(pool)
    if rng.random() < 0.7:  # most given names have two characters
        given = (rng.choice(NEUTRAL_CHARS) if rng.random() < 0.2 else rng.choice(pool)) + given
    return surname + given


def make_person(rng: random.Random, region: str, today: dt.date, taken: set[str]) -> Person:
    """A person with a valid 18-digit ID whose birth date and gender match."""
    male = rng.random() < 0.52
    while True:
        area = rng.choice(AREAS[region]) if rng.random() < 0.7 else rng.choice(OTHER_BIRTHPLACES)
        age_days = rng.randint(18 * 365 + 5, 59 * 365)
        born = today - dt.timedelta(days=age_days)
        order = rng.randint(0, 499) * 2 + (1 if male else 0)  # 17th digit: odd for men
        first17 = f"{area}{born:%Y%m%d}{order:03d}"
        number = first17 + id_check_char(first17)
        if number not in taken:
            taken.add(number)
            return Person(person_name(rng, male), number, "男" if male else "女", born.isoformat())


def make_uscc(rng: random.Random, area: str, government: bool) -> str:
    """A valid 统一社会信用代码: registering authority + type, area, organisation code, check."""
    head = "11" if government else "91"
    org = "".join(rng.choice(USCC_CHARSET) for _ in range(9))
    first17 = head + area + org
    return first17 + uscc_check_char(first17)


def company_name(rng: random.Random, region: str, government: bool, area: str) -> str:
    if government:
        return f"{REGION_NAMES[region]}{DISTRICT_NAMES[area]}{rng.choice(GOV_NAMES)}"
    city = REGION_NAMES[region].rstrip("市省")
    return f"{city}{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_TRADES)}{rng.choice(COMPANY_FORMS)}"


def tax_authority(region: str, area: str) -> str:
    return f"国家税务总局{REGION_NAMES[region]}{DISTRICT_NAMES[area]}税务局"


def agency(region: str, area: str, kind: str) -> str:
    if kind == "medical":
        return f"{REGION_NAMES[region]}{DISTRICT_NAMES[area]}医疗保障事务中心"
    return f"{REGION_NAMES[region]}{DISTRICT_NAMES[area]}社会保险事业管理中心"


def random_base(rng: random.Random, region: str) -> str:
    """A monthly payroll base as money text: most near the floor, a few at the cap."""
    floor, cap = BASE_RANGES[region]
    value = int(floor + (cap - floor) * rng.random() ** 2.5)
    if rng.random() < 0.15:
        value = floor
    return f"{value}.00"
