"""The dashboard in Debian's Chromium (Playwright, no browser download), as a technician uses it.

Screenshots are kept in test-artifacts/ for people to look at.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ARTIFACTS, HubFixture, http_json, wait_until
from tests.dash_fixtures import NEW_PASSWORD, add_account


async def login(page, url: str, account) -> None:
    await page.goto(url + "/")
    await page.fill("#login input[name=username]", account.username)
    await page.fill("#login input[name=password]", account.password)
    await page.fill("#login input[name=totp]", account.code())
    await page.click("#login button[type=submit]")


async def test_admin_logs_in_with_totp_approves_a_node_and_acknowledges_a_live_alert(
        hub: HubFixture, node_factory, browser_page, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser_page
    admin = add_account(hub.state, "olena", "admin")
    power = await node_factory("power-1", hub.url, hub.code(role="power"), roles=["power"],
                               extra='[roles.power]\nnut_server = false\ntick_s = 0.1\n[roles.power.ups]\n'
                                     'driver = "q1"\nurl = "sim"\npoll_interval_s = 0.2\n')
    await wait_until(power.hub.approved.is_set, what="power node approved")
    await node_factory("cam-2", hub.url, hub.code(role="camera", pre_approved=False), roles=["camera"])
    await wait_until(lambda: hub.query("SELECT 1 FROM nodes WHERE status = 'pending'"), what="pending node")

    await login(page, hub.url, admin)
    await page.wait_for_selector("#password")
    await page.fill("#password input[name=old]", admin.password)
    await page.fill("#password input[name=new]", NEW_PASSWORD)
    await page.click("#password button[type=submit]")
    await page.wait_for_selector("table.nodes tr[data-node='power-1']")
    assert "На зв'язку" in await page.inner_text("table.nodes tr[data-node='power-1']")
    await page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)

    await page.click("#nav-enrollment")
    await page.wait_for_selector("#pending tr[data-node='cam-2']")
    await page.click("#pending tr[data-node='cam-2'] button[data-action=approve]")
    await wait_until(lambda: hub.query("SELECT status, decided_by FROM nodes WHERE name = 'cam-2'")
                     == [("approved", "olena")], what="approved from the page")

    await page.click("#nav-alerts")
    await page.wait_for_selector("#alerts-table")
    # The grid fails at the simulated UPS; the alert must arrive on the open page by itself.
    status, _ = await http_json("POST", power.server.url + "/sim/mains", json={"present": False})
    assert status == 200
    kind = (await wait_until(lambda: hub.query("SELECT kind, message FROM alerts WHERE kind LIKE 'mains%'"),
                             timeout=20, what="mains alert at the hub"))[0]
    row = f"#alerts-table tr:has-text('{kind[1]}')"
    await page.wait_for_selector(row, timeout=15000)  # arrives live, without a reload
    await page.screenshot(path=str(ARTIFACTS / "dashboard-alert.png"), full_page=True)
    await page.click(f"{row} button[data-action=ack]")
    await page.wait_for_selector(f"{row}:has-text('підтвердив olena')", timeout=10000)
    assert hub.query("SELECT acked_by FROM alerts WHERE kind = ?", kind[0]) == [("olena",)]


async def test_the_police_liaison_sees_cameras_and_nothing_else(hub: HubFixture, browser_page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser_page
    police = add_account(hub.state, "liaison", "police")
    await login(page, hub.url, police)
    await page.wait_for_selector("#password")
    await page.fill("#password input[name=old]", police.password)
    await page.fill("#password input[name=new]", NEW_PASSWORD)
    await page.click("#password button[type=submit]")
    await page.wait_for_selector("#nav-cameras")
    links = await page.locator("nav a").all_inner_texts()
    assert len(links) == 1 and links[0].startswith("Камери")
    await page.goto(hub.url + "/#/enrollment")
    await page.wait_for_selector("main .error")
    assert "Недостатньо прав" in await page.inner_text("main")
    await page.screenshot(path=str(ARTIFACTS / "dashboard-police.png"), full_page=True)
    # The API says no too, whatever the page shows.
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    for path in ("/api/v1/dash/overview", "/api/v1/nodes", "/api/v1/alerts", "/api/v1/dash/enrollment"):
        status, _ = await http_json("GET", hub.url + path, cookies=cookies)
        assert status == 403, path
    status, _ = await http_json("GET", hub.url + "/api/v1/dash/camera-token", cookies=cookies)
    assert status == 200


async def test_power_page_shows_the_ups_mains_and_generator_of_a_power_node(hub: HubFixture, node_factory,
                                                                           browser_page) -> None:
    page = browser_page
    tech = add_account(hub.state, "petro", "technician")
    power = await node_factory("power-2", hub.url, hub.code(role="power"), roles=["power"],
                               extra='[roles.power]\nnut_server = false\n[roles.power.ups]\ndriver = "q1"\n'
                                     'url = "sim"\nbattery_cells = 12\nruntime_full_load_s = 900\n')
    await wait_until(lambda: hub.query("SELECT 1 FROM nodes WHERE json_extract(health, '$.roles.power.ups.charge')"
                                       " IS NOT NULL"), timeout=20, what="the UPS charge in a heartbeat")
    await login(page, hub.url, tech)
    await page.wait_for_selector("#password")
    await page.fill("#password input[name=old]", tech.password)
    await page.fill("#password input[name=new]", NEW_PASSWORD)
    await page.click("#password button[type=submit]")
    await page.wait_for_selector("#nav-power")
    await page.click("#nav-power")
    await page.wait_for_selector("section[data-power='power-2']")
    text = await page.inner_text("section[data-power='power-2']")
    assert "Мережа" in text and "ДБЖ" in text and "Заряд" in text and "оцінка" in text
    assert await page.locator("section[data-power='power-2'] svg.chart").count() == 2
    await page.screenshot(path=str(ARTIFACTS / "dashboard-power.png"), full_page=True)
    assert power.identity.id
