"""The portal in a real browser (Debian's Chromium driven by Playwright), served as `gongshi
serve` serves it: the API, the published site and the portal on one port."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from sqlmodel import Session

from disclosure import models, repairs, settings, template, urls
from publishers import release, site
from tests import factories
from tests.browser import CHROMIUM, launched, shot
from tests.portal import helpers
from tests.template_rows import penalty_cells, write_csv

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no browser: install Debian's chromium (see .ci/run)"
)
ON = helpers.ON
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@dataclasses.dataclass
class Node:
    base: str
    settings: settings.Settings
    engine: sa.Engine

    def publish(self) -> None:
        options = site.SiteOptions(on=ON, links=urls.Urls(self.base), search=False)
        release.publish(
            self.settings.releases_dir,
            [(site.NAME, site.builder(self.engine, options, site.SiteReport()))],
            now=dt.datetime.now(dt.UTC),
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def node(app_settings: settings.Settings, engine: sa.Engine) -> Iterator[Node]:
    """A node on a free port, its site published for that address."""
    port = _free_port()
    base = settings.local_base_url(port)
    served = dataclasses.replace(app_settings, base_url=base)
    config = uvicorn.Config(
        helpers.node(served, engine),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the node did not start"
        time.sleep(0.05)
    try:
        yield Node(base, served, engine)
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


def _tab(browser: Any) -> Any:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", accept_downloads=True
    )
    return context.new_page()


def _axe_clean(tab: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(tab)
    serious = [
        (violation["id"], [n["target"] for n in violation["nodes"]])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == [], tab.url


def _cell(tab: Any, row: str) -> str:
    return str(tab.get_by_role("row", name=row).locator("td").inner_text())


def _sign_in(tab: Any, base: str, login: str) -> None:
    tab.goto(base + "portal/login")
    _axe_clean(tab)
    tab.get_by_label("登录名").fill(login)
    tab.get_by_label("密码").fill(helpers.PASSWORD)
    tab.get_by_role("button", name="登录").click()
    tab.wait_for_load_state()


def test_a_clerk_uploads_bad_rows_downloads_them_fixes_and_resends_them(
    node: Node, browser: Any, tmp_path: Path
) -> None:
    with Session(node.engine) as session:
        unit = factories.add_department(session)
        session.commit()
        helpers.account(session, unit, "wangfang")
    good = [penalty_cells(decision_doc_no=f"赤市监罚〔2026〕{n}号") for n in (201, 202)]
    bad = [
        penalty_cells(decision_doc_no="赤市监罚〔2026〕203号", subject_uscc="91440802XXXXXXXXXX"),
        penalty_cells(decision_doc_no="赤市监罚〔2026〕204号", decision_date="2026/13/45"),
        penalty_cells(decision_doc_no="赤市监罚〔2026〕205号", penalty_content=""),
    ]
    sent = write_csv(tmp_path / "处罚.csv", [good[0], bad[0], good[1], bad[1], bad[2]])
    tab = _tab(browser)
    _sign_in(tab, node.base, "wangfang")
    assert tab.locator("h1").inner_text() == "部门工作台"
    _axe_clean(tab)
    tab.get_by_label("信息类别").select_option("penalty")
    tab.get_by_label("双公示模板文件（CSV 或 XLSX）").set_input_files(str(sent))
    tab.get_by_role("button", name="上传并校验").click()
    assert tab.locator("h1").inner_text() == "校验结果"
    assert _cell(tab, "退回 rejected") == "3"
    assert _cell(tab, "新增 accepted").startswith("2")
    rules = tab.locator("main ul li").all_inner_texts()
    assert len(rules) == 3 and sum(int(rule.split("：")[1].split()[0]) for rule in rules) == 3
    _axe_clean(tab)
    shot(tab, "portal-upload")
    with tab.expect_download() as download:
        tab.get_by_role("link", name="下载退回的行（原文件的列，附行号和原因）").click()
    rejects = tmp_path / "rejects.csv"
    download.value.save_as(rejects)
    with rejects.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == [*(c.zh for c in template.PENALTY), "row", "reason"]
    doc_no = [c.key for c in template.PENALTY].index("decision_doc_no")
    assert [(row[-2], row[doc_no]) for row in rows[1:]] == [
        ("3", "赤市监罚〔2026〕203号"),
        ("5", "赤市监罚〔2026〕204号"),
        ("6", "赤市监罚〔2026〕205号"),
    ]
    # fixed in the file's own columns and sent back as it is
    columns = rows[0]
    fixed = [dict(zip(columns, row, strict=True)) for row in rows[1:]]
    clean = penalty_cells()
    for row in fixed:
        for column in template.PENALTY:
            if column.key in ("subject_uscc", "decision_date", "penalty_content"):
                row[column.zh] = clean[column.key]
    with rejects.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows([[row[name] for name in columns] for row in fixed])
    tab.goto(node.base + "portal/")
    tab.get_by_label("信息类别").select_option("penalty")
    tab.get_by_label("双公示模板文件（CSV 或 XLSX）").set_input_files(str(rejects))
    tab.get_by_role("button", name="上传并校验").click()
    assert _cell(tab, "新增 accepted").startswith("3")
    assert _cell(tab, "退回 rejected").startswith("0")
    tab.goto(node.base + "portal/?q=" + "赤市监罚〔2026〕20")
    listed = tab.locator("#records ~ div table tbody tr").count()
    assert listed == 5


def test_a_company_objects_from_a_record_page_and_the_upheld_record_is_a_tombstone(
    node: Node, browser: Any, tmp_path: Path
) -> None:
    with Session(node.engine, expire_on_commit=False) as session:
        unit = factories.add_department(session)
        penalty = factories.add_penalty(session, source_unit_id=unit.id, authority_id=unit.id)
        session.commit()
        helpers.account(session, unit, "wangfang")
        operator = factories.add_department(session, "赤坎区发展和改革局")
        session.commit()
        helpers.account(session, operator, "bureau", models.Role.OPERATOR)
    node.publish()
    record_page = node.base + urls.record_path(models.RecordKind.PENALTY, penalty.id or 0)
    public = _tab(browser)
    public.goto(record_page)
    public.get_by_role("link", name="提出异议申请").click()
    assert public.locator("h1").inner_text() == "异议申请"
    _axe_clean(public)
    public.get_by_label("申请人（单位名称或姓名）").fill("湛江市赤坎区鸿达食品有限公司")
    public.get_by_label("联系方式（电话或邮箱，不公开）").fill("0759-3100000")
    public.get_by_label("异议理由").fill("抽检样品并非我司所售，附送货单为证")
    proof = tmp_path / "送货单.pdf"
    proof.write_bytes(PDF)
    public.get_by_label("证明材料（PDF、JPEG 或 PNG，每个不超过 5 MB，最多 5 个）").set_input_files(
        str(proof)
    )
    public.get_by_role("button", name="提交申请").click()
    number = public.locator("#tracking").inner_text()
    assert number.startswith(f"YY{ON:%Y%m%d}-")
    assert public.locator("#state").inner_text() == "核实中"
    _axe_clean(public)
    shot(public, "portal-track")

    clerk = _tab(browser)
    _sign_in(clerk, node.base, "wangfang")
    queued = clerk.get_by_role("region", name=f"异议 #1：{penalty.decision_doc_no}")
    assert "抽检样品并非我司所售" in queued.inner_text()
    with clerk.expect_download() as download:
        queued.get_by_role("link", name="送货单.pdf").click()
    assert Path(download.value.path()).read_bytes() == PDF
    queued.get_by_label("说明（异议成立时公开，请勿写入个人信息）").fill("经核实，抽检样品来源有误")
    queued.get_by_role("button", name="异议成立，停止公示").click()
    clerk.wait_for_load_state()
    assert "暂无待办。" in clerk.content()

    node.publish()
    answer = public.goto(record_page)
    assert answer.status == 410
    assert public.locator("h1").inner_text() == "停止公示"
    public.goto(node.base + "portal/track/" + number)
    assert public.locator("#state").inner_text() == "异议成立，已停止公示"

    bureau = _tab(browser)
    _sign_in(bureau, node.base, "bureau")
    assert bureau.locator("h1").inner_text() == "发改局工作台"
    assert (bureau.locator("svg title").first.text_content() or "").endswith("按月按时公示率")
    _axe_clean(bureau)
    shot(bureau, "portal-bureau")


def test_a_repair_before_the_minimum_period_is_refused_with_its_date(
    node: Node, browser: Any
) -> None:
    with Session(node.engine, expire_on_commit=False) as session:
        penalty = factories.add_penalty(session)
        session.commit()
        earliest = repairs.repair_possible_from(penalty, factories.ctx().rules)
    node.publish()
    tab = _tab(browser)
    tab.goto(node.base + urls.record_path(models.RecordKind.PENALTY, penalty.id or 0))
    tab.get_by_role("link", name="申请信用修复").click()
    assert tab.locator("h1").inner_text() == "信用修复申请"
    tab.get_by_label("申请人（单位名称或姓名）").fill("湛江市赤坎区鸿达食品有限公司")
    tab.get_by_label("联系方式（电话或邮箱，不公开）").fill("0759-3100000")
    tab.get_by_label("信用承诺及已纠正失信行为的说明").fill("已全部整改并缴纳罚款")
    tab.get_by_role("button", name="提交申请").click()
    error = tab.get_by_role("alert").inner_text()
    assert f"最短公示期未满，{earliest} 起方可修复" in error
    _axe_clean(tab)


def test_a_report_is_filed_from_a_phone_and_the_withdrawal_form_is_accessible(
    node: Node, browser: Any
) -> None:
    with Session(node.engine, expire_on_commit=False) as session:
        unit = factories.add_department(session)
        penalty = factories.add_penalty(session, source_unit_id=unit.id, authority_id=unit.id)
        session.commit()
        helpers.account(session, unit, "wangfang")
    public = _tab(browser)
    public.goto(node.base + "portal/report")
    _axe_clean(public)
    public.get_by_label("受理部门").select_option(label=unit.name)
    public.get_by_label("被举报人（单位名称或姓名）").fill("某某小吃店")
    public.get_by_label("举报内容（时间、地点、经过）").fill("12月5日晚后厨使用过期原料")
    public.get_by_label("举报人姓名（保密）").fill("匿名市民")
    public.get_by_label("举报人联系方式（保密）").fill("13700001111")
    public.get_by_role("button", name="提交举报").click()
    assert public.locator("#tracking").inner_text().startswith(f"JB{ON:%Y%m%d}-")
    assert public.locator("#state").inner_text() == "已受理，核查中"
    clerk = _tab(browser)
    _sign_in(clerk, node.base, "wangfang")
    assert "12月5日晚后厨使用过期原料" in clerk.content()
    assert "匿名市民" not in clerk.content()
    clerk.get_by_role("link", name=f"撤回 {penalty.decision_doc_no}").click()
    assert clerk.locator("h1").inner_text() == "撤回公示"
    _axe_clean(clerk)
    clerk.get_by_label("撤回类型").select_option("revoked")
    clerk.get_by_label("撤回理由（公开，请勿写入个人信息）").fill("原决定已被复议机关撤销")
    clerk.get_by_role("button", name="撤回").click()
    clerk.wait_for_load_state()
    table = clerk.locator("table").last.inner_text()
    assert penalty.decision_doc_no in table and "已停止公示" in table
