"""The page's accounts, agents and API keys in a real headless Chromium, against real Confab,
Redis and the test upstream: sign-in required (CONFAB_AUTH=required) and optional (open mode)."""
import json
import re
import uuid

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import require
from test_browser import replies, send, turn_done

PASSWORD = "correct horse battery staple"
ADMIN_TOKEN = "admin-" + "x" * 30
WAIT_SECONDS = 30


@pytest.fixture
def browser():
    """Chromium as in test_browser.py, also logging its network requests (to check what URLs carry)."""
    driver_path = require("/usr/bin/chromedriver", "apt-get install -y chromium chromium-driver (scripts/setup.sh --test does)")
    options = webdriver.ChromeOptions()
    options.binary_location = require("/usr/bin/chromium", "apt-get install -y chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def open_page(driver, base):
    driver.get(base + "/")
    return WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=[StaleElementReferenceException])


@pytest.fixture
def required(browser, redis_url, test_upstream, start_confab):
    """Confab that answers no one without credentials; the page shows its sign-in form."""
    base = start_confab(redis_url, test_upstream + "/v1", CONFAB_AUTH="required", CONFAB_ADMIN_TOKEN=ADMIN_TOKEN)
    wait = open_page(browser, base)
    wait.until(lambda d: shown(d, "auth-panel"))
    return browser, base, wait


@pytest.fixture
def open_mode(browser, redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1")
    wait = open_page(browser, base)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".session-item")) == 1)
    return browser, base, wait


def shown(driver, element_id):
    return driver.find_element(By.ID, element_id).is_displayed()


def text(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def click(wait, css):
    """Clicks the element the selector finds, again if the page re-rendered it meanwhile."""
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


def persona_shown(driver):
    return Select(driver.find_element(By.ID, "role-select")).first_selected_option.get_attribute("value")


def new_username():
    return "u" + uuid.uuid4().hex[:10]


def fill_auth(driver, username, password):
    for field, value in (("auth-username", username), ("auth-password", password)):
        box = driver.find_element(By.ID, field)
        box.clear()
        box.send_keys(value)
    driver.find_element(By.ID, "auth-submit").click()


def choose_auth_action(driver, wait, title):
    """Switches the form to "Sign in" or "Create an account"."""
    if text(driver, "auth-title") != title:
        driver.find_element(By.ID, "auth-switch").click()
    wait.until(lambda d: text(d, "auth-title") == title)


def signed_in_as(username):
    return lambda d: not shown(d, "auth-panel") and shown(d, "user-account") and text(d, "username") == username


def register(driver, wait, username):
    choose_auth_action(driver, wait, "Create an account")
    fill_auth(driver, username, PASSWORD)
    wait.until(signed_in_as(username))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".session-item")) == 1)


def account(driver):
    """What the page keeps for the signed-in user (sessionStorage), or None."""
    return json.loads(driver.execute_script("return sessionStorage.getItem('confab_account')") or "null")


def bearer(token):
    return {"Authorization": "Bearer " + token}


def current_session(driver):
    return driver.execute_script("return sessionStorage.getItem('confab_session_id:' + arguments[0])", account(driver)["user"]["id"])


def chat(driver, wait, message):
    send(driver, message)
    wait.until(turn_done)
    reply = replies(driver)[-1]
    echoed = re.sub(r"\[\[[a-z]+=[^\]]*\]\]", "", message).strip()[:40]  # the test upstream echoes without directives
    assert reply.text.startswith("Echo: " + echoed), reply.text
    assert reply.get_attribute("data-status") == "complete"


def session_titles(driver):
    return [el.text for el in driver.find_elements(By.CSS_SELECTOR, ".session-title")]


def requests_sent(driver):
    """The requests the page sent since the last call: [{url, method, headers}]."""
    sent = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            sent.append(message["params"]["request"])
    return sent


def test_sign_in_is_required_then_register_chat_sign_out_and_sign_in_again(required):
    driver, base, wait = required
    assert requests.get(f"{base}/chat/sessions").json()["error"]["code"] == "credentials_required"
    assert shown(driver, "auth-note") and not shown(driver, "auth-cancel"), "no way around the form"
    assert driver.find_elements(By.CSS_SELECTOR, ".session-item") == []
    assert not shown(driver, "anonymous-account")

    username = new_username()
    choose_auth_action(driver, wait, "Create an account")
    fill_auth(driver, username, "short")
    wait.until(lambda d: "at least 8" in text(d, "auth-error"))
    assert shown(driver, "auth-panel") and account(driver) is None

    fill_auth(driver, username, PASSWORD)
    wait.until(signed_in_as(username))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".session-item")) == 1)
    chat(driver, wait, "hello from the browser [[tokens=12]]")
    chat(driver, wait, "[[delay=1]]" + " long" * 400)  # over 1500 characters: sent by POST with fetch

    token = account(driver)["token"]
    sessions = requests.get(f"{base}/chat/sessions", headers=bearer(token)).json()["sessions"]
    assert [s["title"] for s in sessions] == ["hello from the browser [[tokens=12]]"]
    assert sessions[0]["id"] == current_session(driver) and sessions[0]["message_count"] == 4

    # The token: in sessionStorage, never in localStorage or a URL; streams went with tickets.
    assert token not in json.dumps(driver.execute_script("return Object.assign({}, localStorage)"))
    sent = requests_sent(driver)
    assert sent and not [r["url"] for r in sent if token in r["url"]]
    streams = [r for r in sent if "/chat/stream" in r["url"]]
    assert [r["method"] for r in streams] == ["GET", "POST"]
    assert "ticket=cft_" in streams[0]["url"] and "user_id" not in streams[0]["url"]
    assert streams[1]["headers"].get("Authorization") == "Bearer " + token
    registered = max(i for i, r in enumerate(sent) if r["url"].endswith("/api/v1/auth/register"))
    api_calls = [r for r in sent[registered + 1:] if "/chat/" in r["url"] and "/chat/stream" not in r["url"]]
    assert api_calls and all(r["headers"].get("Authorization") == "Bearer " + token for r in api_calls)

    driver.find_element(By.ID, "sign-out-btn").click()
    wait.until(lambda d: shown(d, "auth-panel") and not shown(d, "user-account"))
    assert driver.find_elements(By.CSS_SELECTOR, ".session-item") == [] and account(driver) is None
    assert not driver.find_elements(By.CSS_SELECTOR, "#messages .message")

    choose_auth_action(driver, wait, "Sign in")
    fill_auth(driver, username, "not the password")
    wait.until(lambda d: "invalid username or password" in text(d, "auth-error"))
    fill_auth(driver, username, PASSWORD)
    wait.until(signed_in_as(username))
    wait.until(lambda d: session_titles(d) == ["hello from the browser [[tokens=12]]"])
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".message.user")) == 2 and len(replies(d)) == 2)
    assert account(driver)["token"] != token, "a new access token"


def test_an_agent_from_a_template_chats_as_that_agent(required):
    driver, base, wait = required
    register(driver, wait, new_username())
    templates = {t["id"]: t for t in requests.get(f"{base}/api/v1/agents/templates").json()["templates"]}
    creative = templates["creative-partner"]

    driver.find_element(By.ID, "new-agent-btn").click()
    wait.until(lambda d: shown(d, "agent-panel"))
    Select(driver.find_element(By.ID, "template-select")).select_by_value("creative-partner")
    wait.until(lambda d: text(d, "template-description") == creative["description"])
    assert [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#template-topics li")] == creative["opening_topics"]
    name = "Muse <b>bold</b>"
    driver.find_element(By.ID, "agent-name").send_keys(name)
    driver.find_element(By.ID, "agent-submit").click()

    wait.until(lambda d: not shown(d, "agent-panel") and len(d.find_elements(By.CSS_SELECTOR, ".session-item")) == 2)
    token = account(driver)["token"]
    agents = requests.get(f"{base}/api/v1/agents", headers=bearer(token)).json()["agents"]
    assert [(a["name"], a["template_id"]) for a in agents] == [(name, "creative-partner")]
    agent_id = agents[0]["id"]
    select = Select(driver.find_element(By.ID, "role-select"))
    assert select.first_selected_option.get_attribute("value") == agent_id
    assert select.first_selected_option.text == name, "the agent's name shows as text"
    assert driver.find_elements(By.CSS_SELECTOR, "#role-select b, .message.welcome b") == []
    welcome = driver.find_element(By.CSS_SELECTOR, ".message.welcome")
    assert name in welcome.text
    chips = welcome.find_elements(By.CSS_SELECTOR, ".suggestion")
    assert [c.text for c in chips] == creative["opening_topics"]

    driver.execute_script("delete document.body.dataset.turn")
    chips[0].click()  # sends the topic
    wait.until(turn_done)
    assert driver.find_element(By.CSS_SELECTOR, ".message.user").text == creative["opening_topics"][0]
    assert replies(driver)[-1].text.startswith("Echo: " + creative["opening_topics"][0])
    agent_session = current_session(driver)
    sessions = {s["id"]: s for s in requests.get(f"{base}/chat/sessions", headers=bearer(token)).json()["sessions"]}
    assert sessions[agent_session]["persona"] == agent_id
    other = next(s for s in sessions.values() if s["id"] != agent_session)
    assert other["persona"] == "assistant"

    # Switching chats switches the persona shown; a reload keeps the agent.
    click(wait, f'.session-item[data-id="{other["id"]}"]')
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'.session-item.active[data-id="{other["id"]}"]'))
    wait.until(lambda d: persona_shown(d) == "assistant" and d.find_elements(By.CSS_SELECTOR, ".message.welcome"))
    click(wait, f'.session-item[data-id="{agent_session}"]')
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'.session-item.active[data-id="{agent_session}"]'))
    wait.until(lambda d: persona_shown(d) == agent_id and len(replies(d)) == 1)
    chat(driver, wait, "and a second message")
    history = requests.get(f"{base}/chat/history", params={"session_id": agent_session}, headers=bearer(token)).json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"] * 2
    assert requests.get(f"{base}/chat/sessions", headers=bearer(token)).json()["sessions"][0]["persona"] == agent_id

    driver.refresh()
    wait.until(lambda d: len(replies(d)) == 2)
    wait.until(lambda d: persona_shown(d) == agent_id)


def test_api_keys_are_made_shown_once_and_revoked(required):
    driver, base, wait = required
    username = new_username()
    register(driver, wait, username)
    driver.find_element(By.ID, "keys-btn").click()
    wait.until(lambda d: shown(d, "keys-panel") and len(d.find_elements(By.CSS_SELECTOR, ".key-item")) == 1)
    assert driver.find_element(By.CSS_SELECTOR, ".key-item .key-name").text == "default"  # made at registration
    assert not shown(driver, "new-key")

    driver.find_element(By.ID, "key-name").send_keys("laptop <i>")
    driver.find_element(By.ID, "key-create").click()
    wait.until(lambda d: shown(d, "new-key") and len(d.find_elements(By.CSS_SELECTOR, ".key-item")) == 2)
    secret = text(driver, "new-key-secret")
    assert secret.startswith("cfk_")
    me = requests.get(f"{base}/api/v1/me", headers=bearer(secret))
    assert me.status_code == 200 and me.json()["user"]["username"] == username
    keys = requests.get(f"{base}/api/v1/keys", headers=bearer(account(driver)["token"])).json()["keys"]
    made = next(k for k in keys if k["name"] == "laptop <i>")
    item = driver.find_element(By.CSS_SELECTOR, f'.key-item[data-id="{made["id"]}"]')
    assert item.find_element(By.CSS_SELECTOR, ".key-name").text == "laptop <i>" and not item.find_elements(By.TAG_NAME, "i")
    assert made["prefix"] in item.text and secret not in item.text

    driver.find_element(By.ID, "new-key-copy").click()
    wait.until(lambda d: shown(d, "new-key-copied"))

    # Shown once: closed and opened again, the secret is nowhere on the page.
    driver.find_element(By.ID, "keys-close").click()
    wait.until(lambda d: not shown(d, "keys-panel"))
    driver.find_element(By.ID, "keys-btn").click()
    wait.until(lambda d: shown(d, "keys-panel") and len(d.find_elements(By.CSS_SELECTOR, ".key-item")) == 2)
    assert not shown(driver, "new-key") and secret not in driver.page_source

    click(wait, f'.key-item[data-id="{made["id"]}"] .key-revoke')
    WebDriverWait(driver, WAIT_SECONDS).until(expected_conditions.alert_is_present()).accept()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".key-item")) == 1)
    assert not driver.find_elements(By.CSS_SELECTOR, f'.key-item[data-id="{made["id"]}"]')
    refused = requests.get(f"{base}/api/v1/me", headers=bearer(secret))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_credentials"
    assert requests.get(f"{base}/chat/sessions", headers=bearer(secret)).status_code == 401


def test_a_token_the_server_refuses_signs_the_user_out(required):
    driver, base, wait = required
    username = new_username()
    register(driver, wait, username)
    chat(driver, wait, "before the account goes")
    user_id = account(driver)["user"]["id"]
    assert requests.delete(f"{base}/api/v1/admin/users/{user_id}", headers=bearer(ADMIN_TOKEN)).status_code == 200

    driver.find_element(By.ID, "new-chat-btn").click()
    wait.until(lambda d: shown(d, "auth-panel") and "expired" in text(d, "auth-error"))
    assert account(driver) is None and not shown(driver, "user-account")
    assert driver.find_elements(By.CSS_SELECTOR, ".session-item, #messages .message") == []

    # A saved token the server does not take is dropped when the page loads.
    driver.execute_script("sessionStorage.setItem('confab_account', JSON.stringify(arguments[0]))",
                          {"token": "not.a.token", "expiresAt": 4102444800000, "user": {"id": user_id, "username": username}})
    driver.refresh()
    wait.until(lambda d: shown(d, "auth-panel") and "expired" in text(d, "auth-error"))
    assert account(driver) is None


def test_open_mode_works_anonymously_and_signing_in_is_optional(open_mode):
    driver, base, wait = open_mode
    anonymous = driver.execute_script("return localStorage.getItem('confab_user_id')")
    assert text(driver, "user-id") == anonymous and shown(driver, "sign-in-btn")
    assert not shown(driver, "auth-panel") and not shown(driver, "new-agent-btn")
    chat(driver, wait, "anonymous hello")

    driver.find_element(By.ID, "sign-in-btn").click()
    wait.until(lambda d: shown(d, "auth-panel") and shown(d, "auth-cancel"))
    driver.find_element(By.ID, "auth-cancel").click()
    wait.until(lambda d: not shown(d, "auth-panel"))
    assert session_titles(driver) == ["anonymous hello"]

    username = new_username()
    driver.find_element(By.ID, "sign-in-btn").click()
    wait.until(lambda d: shown(d, "auth-panel"))
    register(driver, wait, username)
    assert session_titles(driver) == ["New chat"], "the account's own chats, not the anonymous ones"
    assert shown(driver, "new-agent-btn")
    chat(driver, wait, "signed-in hello")
    token = account(driver)["token"]
    assert [s["title"] for s in requests.get(f"{base}/chat/sessions", headers=bearer(token)).json()["sessions"]] == ["signed-in hello"]
    assert [s["title"] for s in requests.get(f"{base}/chat/sessions", params={"user_id": anonymous}).json()["sessions"]] == \
        ["anonymous hello"]

    driver.find_element(By.ID, "sign-out-btn").click()
    wait.until(lambda d: shown(d, "anonymous-account") and session_titles(d) == ["anonymous hello"])
    wait.until(lambda d: len(replies(d)) == 1 and replies(d)[0].text.startswith("Echo: anonymous hello"))
    assert not shown(driver, "auth-panel") and account(driver) is None
    chat(driver, wait, "anonymous again")
