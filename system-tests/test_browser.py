"""The web page in a real headless Chromium, against real Confab, Redis and the test upstream."""
import json
import os
import time

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import require


@pytest.fixture
def browser():
    driver_path = require("/usr/bin/chromedriver", "apt-get install -y chromium chromium-driver (scripts/setup.sh --test does)")
    options = webdriver.ChromeOptions()
    options.binary_location = require("/usr/bin/chromium", "apt-get install -y chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1")
    browser.get(base + "/")
    wait = WebDriverWait(browser, 15, ignored_exceptions=[StaleElementReferenceException])
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".session-item")) == 1)
    return browser, base, wait


def replies(driver):
    return driver.find_elements(By.CSS_SELECTOR, ".message.assistant:not(.welcome)")


def send(driver, text):
    driver.execute_script("delete document.body.dataset.turn")  # so turn_done waits for this turn
    box = driver.find_element(By.ID, "message-input")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.ID, "send-btn").click()


def turn_done(driver):
    """The reply ended and the page reloaded the stored history."""
    return driver.execute_script("return document.body.dataset.turn") == "done"


def user_and_session(driver):
    return (driver.execute_script("return localStorage.getItem('confab_user_id')"),
            driver.execute_script("return localStorage.getItem('confab_session_id')"))


def test_reply_streams_token_by_token_then_survives_a_reload(page):
    driver, base, wait = page
    assert [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, "#role-select option")] == \
        ["assistant", "teacher", "programmer", "scout", "advisor"]
    send(driver, "hello streaming world [[tokens=40]]")
    lengths, typing_seen = [], False
    deadline = time.time() + 20
    # Read in one script call: the page replaces its messages when the reply ends.
    probe = """const r = document.querySelectorAll('.message.assistant:not(.welcome) .content');
        return [r.length ? r[r.length - 1].textContent.length : 0,
                !document.getElementById('typing-indicator').hidden,
                !document.getElementById('send-btn').hidden];"""
    while time.time() < deadline:
        length, typing, done = driver.execute_script(probe)
        lengths.append(length)
        typing_seen |= typing
        if done and length > 0:
            break
        time.sleep(0.03)
    growth = sorted(set(l for l in lengths if l > 0))
    assert len(growth) >= 5, f"the reply should appear piece by piece, saw lengths {growth}"
    assert typing_seen, "a typing indicator shows while the reply streams"
    wait.until(turn_done)
    final = replies(driver)[-1].text
    assert final.startswith("Echo: hello streaming world") and "word34" in final
    messages = driver.find_element(By.ID, "messages")
    assert driver.execute_script("const m = arguments[0]; return m.scrollHeight - m.scrollTop - m.clientHeight", messages) < 40, \
        "the view follows the reply"

    driver.refresh()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".message.user")) == 1 and len(replies(d)) == 1)
    assert replies(driver)[-1].text == final
    assert driver.find_element(By.CSS_SELECTOR, ".session-title").text == "hello streaming world [[tokens=40]]"


def test_stop_keeps_the_partial_reply(page):
    driver, base, wait = page
    send(driver, "[[tokens=400]] stop me")
    wait.until(lambda d: replies(d) and len(replies(d)[-1].text) > 20)
    driver.find_element(By.ID, "stop-btn").click()
    wait.until(turn_done)
    shown = replies(driver)[-1]
    assert shown.get_attribute("data-status") == "partial"
    assert "partial" in shown.find_element(By.CSS_SELECTOR, ".badge").text
    user, session = user_and_session(driver)
    stored = requests.get(f"{base}/chat/history", params={"user_id": user, "session_id": session}).json()["messages"][-1]
    assert stored["status"] == "partial" and stored["reason"] == "client_disconnected"
    assert 0 < len(stored["content"]) < len("Echo: stop me") + 400 * 8
    driver.refresh()
    wait.until(lambda d: replies(d) and replies(d)[-1].get_attribute("data-status") == "partial")


def test_model_errors_show_as_errors(page):
    driver, base, wait = page
    send(driver, "[[fault=error-event]] one two three four")
    wait.until(turn_done)
    assert replies(driver)[-1].get_attribute("data-status") == "error"
    assert "error" in replies(driver)[-1].find_element(By.CSS_SELECTOR, ".badge").text


def test_html_in_messages_stays_text(page):
    driver, base, wait = page
    attack = "<img src=x onerror=alert(1)> **bold** <script>window.pwned=1</script>"
    send(driver, attack)
    wait.until(turn_done)
    messages = driver.find_element(By.ID, "messages")
    assert messages.find_elements(By.TAG_NAME, "img") == []
    assert messages.find_elements(By.TAG_NAME, "script") == []
    assert "<img src=x onerror=alert(1)>" in driver.find_element(By.CSS_SELECTOR, ".message.user").text
    assert "<img src=x onerror=alert(1)>" in replies(driver)[-1].text
    assert replies(driver)[-1].find_elements(By.TAG_NAME, "strong"), "Markdown still renders"
    assert driver.execute_script("return window.pwned") is None
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text


def test_sessions_switch_and_delete(page):
    driver, base, wait = page
    send(driver, "first chat")
    wait.until(turn_done)
    user, first = user_and_session(driver)
    driver.find_element(By.ID, "new-chat-btn").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".session-item")) == 2)
    send(driver, "second chat")
    wait.until(turn_done)
    _, second = user_and_session(driver)
    assert second != first

    driver.find_element(By.CSS_SELECTOR, f'.session-item[data-id="{first}"]').click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".message.user") and
               d.find_element(By.CSS_SELECTOR, ".message.user").text == "first chat")

    driver.find_element(By.CSS_SELECTOR, f'.session-item[data-id="{second}"] .session-delete').click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".session-item")) == 1)
    assert requests.get(f"{base}/chat/history", params={"user_id": user, "session_id": second}).status_code == 404

    driver.find_element(By.ID, "clear-btn").click()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".message.user"))
    assert requests.get(f"{base}/chat/history", params={"user_id": user, "session_id": first}).json()["total"] == 0


# Records [tool name, state] each time a tool card appears or changes state while the reply
# streams, i.e. before the page replaces it with the stored history.
RECORD_STREAMED_CARDS = """window.streamedCards = [];
    new MutationObserver((records) => {
        if (document.getElementById('stop-btn').hidden) return;
        records.forEach((r) => {
            const added = Array.from(r.addedNodes).filter((n) => n.nodeType === 1);
            const cards = r.type === 'attributes' ? [r.target] :
                added.flatMap((n) => n.matches('.tool-card') ? [n] : Array.from(n.querySelectorAll('.tool-card')));
            cards.filter((c) => c.matches('.tool-card')).forEach((c) => window.streamedCards.push([c.dataset.toolName, c.dataset.state]));
        });
    }).observe(document.getElementById('messages'), {childList: true, subtree: true, attributes: true, attributeFilter: ['data-state']});"""


def usage_line(usage):
    return ("≈ " if usage.get("estimated") else "") + \
        f"{usage['total_tokens']} tokens ({usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion)"


def check_tool_card(driver, usage):
    """The reply holds one closed find_agents card, then the text; opened, it shows input and output."""
    reply = replies(driver)[-1]
    assert len(driver.find_elements(By.CSS_SELECTOR, '.tool-card[data-tool-name="find_agents"]')) == 1
    card = reply.find_element(By.CSS_SELECTOR, '.tool-card[data-tool-name="find_agents"]')
    assert card.get_attribute("data-state") == "done" and card.get_attribute("open") is None
    summary = card.find_element(By.TAG_NAME, "summary")
    assert "find_agents" in summary.text and "done" in summary.text
    summary.click()
    WebDriverWait(driver, 5).until(lambda d: card.get_attribute("open") is not None)
    assert "moneny printing agent" in card.find_element(By.CSS_SELECTOR, ".tool-input").text
    output = card.find_element(By.CSS_SELECTOR, ".tool-output")
    assert '"agents"' in output.text
    agents = json.loads(output.get_attribute("textContent"))["agents"]
    assert agents and all({"id", "name", "description"} <= set(agent) for agent in agents)
    assert card.find_elements(By.CSS_SELECTOR, ".tool-error") == []
    text = reply.find_elements(By.CSS_SELECTOR, ".content")[-1]
    assert text.text.startswith("Tool results:")
    assert driver.execute_script("return !!(arguments[0].compareDocumentPosition(arguments[1]) & Node.DOCUMENT_POSITION_FOLLOWING)",
                                 card, text), "the text after the tool call comes after its card"
    assert reply.find_element(By.CSS_SELECTOR, ".usage").text == usage_line(usage)


def test_tool_calls_show_as_cards_then_survive_a_reload(page):
    driver, base, wait = page
    Select(driver.find_element(By.ID, "role-select")).select_by_value("scout")
    driver.execute_script(RECORD_STREAMED_CARDS)
    send(driver, "Please find me an agent that can help me with my business. Use the query 'moneny printing agent'")
    WebDriverWait(driver, 60, ignored_exceptions=[StaleElementReferenceException]).until(turn_done)
    streamed = driver.execute_script("return window.streamedCards")
    assert ["find_agents", "running"] in streamed and ["find_agents", "done"] in streamed, \
        f"the card shows while the reply streams, then fills in; saw {streamed}"

    user, session = user_and_session(driver)
    stored = requests.get(f"{base}/chat/history", params={"user_id": user, "session_id": session}).json()["messages"][-1]
    assert stored["role"] == "assistant" and [p["type"] == "tool" and p["name"] for p in stored["parts"]].count("find_agents") == 1
    check_tool_card(driver, stored["usage"])
    listed = requests.get(f"{base}/chat/sessions", params={"user_id": user}).json()["sessions"]
    total = next(s for s in listed if s["id"] == session)["usage"]["total_tokens"]
    assert total > 0 and driver.find_element(By.CSS_SELECTOR, ".session-usage").text == f"Session: {total} tokens"

    driver.refresh()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".message.user")) == 1 and len(replies(d)) == 1)
    check_tool_card(driver, stored["usage"])
