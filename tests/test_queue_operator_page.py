"""The operator's page in a real browser, driven by the keyboard alone (Ukrainian layout or not)."""

from __future__ import annotations

from tests.test_queue_service import Cnap, cnap  # noqa: F401 (fixture)


async def test_an_operator_serves_redirects_and_pauses_with_the_keyboard_alone(cnap: Cnap, browser_page) -> None:
    page = browser_page
    await cnap.act(1, "open")
    await cnap.issue("id-card")
    await cnap.issue("land-extract")
    await page.goto(f"{cnap.url}/queue/operator/1#token={cnap.token}")
    await page.wait_for_function("document.getElementById('count').textContent === '2'")
    assert "token" not in page.url, "the token leaves the address bar at once"
    label = page.locator("#label")

    await page.keyboard.press("KeyN")  # call next
    await page.wait_for_function("document.getElementById('label').textContent === 'А001'")
    await page.keyboard.press("KeyR")  # recall
    await page.wait_for_function("document.getElementById('detail').textContent.includes('повторних викликів: 1')")
    await page.keyboard.press("KeyS")  # start
    await page.wait_for_function("document.getElementById('detail').textContent.includes('Обслуговується')")
    await page.keyboard.press("KeyF")  # finish
    await page.wait_for_function("document.getElementById('label').textContent === '—'")

    await page.keyboard.press("Space")  # call next, the other way
    await page.wait_for_function("document.getElementById('label').textContent === 'Г001'")
    await page.keyboard.press("KeyD")  # redirect: a dialog, filled and confirmed from the keyboard
    await page.wait_for_selector("#redirectDialog[open]")
    await page.select_option("#toService", "residence")
    await page.focus("#comment")
    await page.keyboard.type("потрібна реєстрація")
    await page.keyboard.press("Enter")
    await page.wait_for_function("document.getElementById('label').textContent === '—'")
    ticket = next(t for t in (await cnap.state())["tickets"] if t["label"] == "Г001")
    assert (ticket["service"], ticket["state"], ticket["comment"]) == ("residence", "waiting", "потрібна реєстрація")

    await page.keyboard.press("KeyA")  # pause the whole queue: reason from a list, Enter
    await page.wait_for_selector("#pauseDialog[open]")
    await page.keyboard.press("Enter")
    await page.wait_for_function("getComputedStyle(document.getElementById('banner')).display === 'block'")
    assert "повітряна тривога" in await page.locator("#banner").inner_text()
    assert await page.locator("#call-next").is_disabled()
    await page.keyboard.press("KeyA")  # and resume it
    await page.wait_for_function("getComputedStyle(document.getElementById('banner')).display === 'none'")
    await page.keyboard.press("KeyP")  # a break for this window
    await page.wait_for_function("document.getElementById('wstate').textContent.startsWith('перерва')")
    assert (await cnap.ok("GET", "windows/1"))["window"]["state"] == "paused"
    assert await label.inner_text() == "—"
