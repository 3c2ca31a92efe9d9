# ruff: noqa: RUF001  (Chinese text uses full-width punctuation on purpose)
"""English and Chinese for the buyer's tracking page and the page chrome.

The language is ``?lang=en|zh`` when given, else the first language of ``Accept-Language`` we
speak (by its q-value), else English. Strings are looked up by key; a key missing in Chinese
falls back to English, and an unknown key shows itself (a test checks both tables have the same
keys). Lifecycle steps have their Chinese names here too, keyed by the
English label the trace layer writes (``xborder.trace.lifecycle``), so the timeline reads in
plain words in either language.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

LANGUAGES = ("en", "zh")
DEFAULT = "en"
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}

EN: dict[str, str] = {
    "app": "xborder",
    "nav.dashboard": "Dashboard",
    "nav.orders": "Orders",
    "nav.parcels": "Parcels",
    "nav.declarations": "Declarations",
    "nav.balances": "Balances",
    "nav.seller": "My orders",
    "nav.carrier": "My parcels",
    "nav.simulations": "Simulations",
    "nav.track": "Track a parcel",
    "nav.login": "Log in",
    "nav.logout": "Log out",
    "nav.signed_in_as": "Signed in as",
    "lang.switch": "中文",
    "footer": "Map data: Natural Earth (public domain) via world-atlas 2.0.2.",
    "track.title": "Track your parcel",
    "track.intro": "Enter the tracking number and the postcode the parcel goes to.",
    "track.tracking_no": "Tracking number",
    "track.postcode": "Destination postcode",
    "track.submit": "Track",
    "track.not_found": (
        "We found no parcel with this tracking number and postcode. Check both and try again."
    ),
    "track.missing": "Give both the tracking number and the postcode.",
    "track.parcel": "Parcel",
    "track.state": "Current state",
    "track.promised": "Promised delivery by",
    "track.estimated": "Estimated delivery",
    "track.delivered_on": "Delivered on",
    "track.timeline": "Timeline",
    "track.when": "When (UTC)",
    "track.what": "What happened",
    "track.where": "Where",
    "track.no_events": "No events recorded yet.",
    "track.unknown": "not known yet",
    "track.another": "Track another parcel",
    "login.title": "Log in",
    "login.intro": "Paste your API key (xbk_...). It is kept in a cookie for this site only.",
    "login.key": "API key",
    "login.submit": "Log in",
    "login.failed": "This key was not accepted.",
    "error.title": "Something went wrong",
}

ZH: dict[str, str] = {
    "app": "xborder",
    "nav.dashboard": "总览",
    "nav.orders": "订单",
    "nav.parcels": "包裹",
    "nav.declarations": "报关单",
    "nav.balances": "结算余额",
    "nav.seller": "我的订单",
    "nav.carrier": "我的包裹",
    "nav.simulations": "仿真",
    "nav.track": "包裹查询",
    "nav.login": "登录",
    "nav.logout": "退出",
    "nav.signed_in_as": "当前身份",
    "lang.switch": "English",
    "footer": "地图数据：Natural Earth（公有领域），经 world-atlas 2.0.2。",
    "track.title": "查询您的包裹",
    "track.intro": "请输入运单号和收件地邮政编码。",
    "track.tracking_no": "运单号",
    "track.postcode": "收件地邮编",
    "track.submit": "查询",
    "track.not_found": "未找到与该运单号和邮编匹配的包裹，请核对后重试。",
    "track.missing": "请同时填写运单号和邮编。",
    "track.parcel": "包裹",
    "track.state": "当前状态",
    "track.promised": "承诺送达日期",
    "track.estimated": "预计送达日期",
    "track.delivered_on": "送达日期",
    "track.timeline": "物流轨迹",
    "track.when": "时间（UTC）",
    "track.what": "状态",
    "track.where": "地点",
    "track.no_events": "暂无物流记录。",
    "track.unknown": "暂未确定",
    "track.another": "查询其他包裹",
    "login.title": "登录",
    "login.intro": "请粘贴您的 API 密钥（xbk_...），它仅保存在本站的 Cookie 中。",
    "login.key": "API 密钥",
    "login.submit": "登录",
    "login.failed": "该密钥无效。",
    "error.title": "出错了",
}

# The lifecycle labels of ``xborder.trace.lifecycle.LIFECYCLE``, in Chinese.
STEPS_ZH: dict[str, str] = {
    "Order placed": "已下单",
    "Packed": "已打包",
    "Consolidated at hub": "已在枢纽集货",
    "Departed": "已发运",
    "Arrived": "已到达",
    "Held by export customs": "出口海关扣留",
    "Inspected by export customs": "出口海关查验",
    "Export cleared": "出口清关完成",
    "Refused by export customs": "出口海关拒绝放行",
    "Held by import customs": "进口海关扣留",
    "Inspected by import customs": "进口海关查验",
    "Import cleared": "进口清关完成",
    "Refused by import customs": "进口海关拒绝放行",
    "Unpacked at destination hub": "已在目的地枢纽拆包",
    "Out for delivery": "派送中",
    "Delivery attempted": "派送未成功",
    "Delivered": "已签收",
    "Damaged": "已损坏",
    "Lost": "已丢失",
    "Returned to sender": "已退回发件人",
}
PARCEL_STATES_ZH: dict[str, str] = {
    "packed": "已打包",
    "consolidated": "已集货",
    "export_held": "出口海关扣留",
    "export_cleared": "出口清关完成",
    "departed": "运输中",
    "arrived": "已到达目的国",
    "import_held": "进口海关扣留",
    "import_cleared": "进口清关完成",
    "out_for_delivery": "派送中",
    "delivery_attempted": "派送未成功",
    "delivered": "已签收",
    "damaged": "已损坏",
    "lost": "已丢失",
    "returned": "已退回",
}

TABLES = {"en": EN, "zh": ZH}


def parse_accept_language(header: str | None) -> str | None:
    """The first language of ``Accept-Language`` we speak, by q-value (ties: header order)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.strip().lower().split("-", 1)[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, index, primary))
    return min(ranked)[2] if ranked else None


def choose_language(query: str | None, accept_language: str | None) -> str:
    """``?lang=`` if it is a language we speak, else ``Accept-Language``, else English."""
    if query and query.lower() in LANGUAGES:
        return query.lower()
    return parse_accept_language(accept_language) or DEFAULT


def translator(lang: str) -> Callable[[str], str]:
    table = TABLES.get(lang, EN)

    def t(key: str) -> str:
        return table.get(key) or EN.get(key) or key

    return t


def step_label(label: str, lang: str) -> str:
    """A timeline label (English, as the trace layer writes it) in ``lang``."""
    return STEPS_ZH.get(label, label) if lang == "zh" else label


def parcel_state(state: str | None, lang: str) -> str:
    """A parcel status (``ParcelStatus`` value) in plain words."""
    if not state:
        return ""
    if lang == "zh":
        return PARCEL_STATES_ZH.get(state, state)
    return state.replace("_", " ").capitalize()


def switch_url(path: str, query: str, lang: str) -> str:
    """The same page in the other language: ``path`` with ``lang`` set in its query string."""
    other = "en" if lang == "zh" else "zh"
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "lang"]
    pairs.append(("lang", other))
    return f"{path}?{urlencode(pairs)}"
