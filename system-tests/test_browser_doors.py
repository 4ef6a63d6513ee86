"""One conversation store, several front doors: conversations started through Open WebUI's
client, the OpenAI SDK's chat completions, Responses and Conversations all show in the page's
sidebar (headless Chromium), each with its messages."""
import logging

import requests
from openai import OpenAI
from openwebui_chat_client import OpenWebUIClient
from selenium.webdriver.common.by import By

from test_browser import replies
from test_browser_identity import (PASSWORD, choose_auth_action, click, fill_auth, new_username, required,  # noqa: F401
                                   session_titles, signed_in_as, browser)


def test_conversations_from_every_door_show_in_the_sidebar(required):
    driver, base, wait = required
    username = new_username()
    made = requests.post(f"{base}/api/v1/auth/register", json={"username": username, "password": PASSWORD})
    assert made.status_code == 201, made.text
    key = made.json()["api_key"]["key"]

    logging.getLogger("openwebui_chat_client").setLevel(logging.WARNING)
    webui = OpenWebUIClient(base_url=base, token=key, default_model_id="assistant", skip_model_refresh=True)
    assert webui.chat("hello from open webui", "From Open WebUI")["response"] == "Echo: hello from open webui"
    sdk = OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
    kept = sdk.chat.completions.with_raw_response.create(
        model="teacher", messages=[{"role": "user", "content": "from chat completions"}], extra_headers={"X-Confab-Store": "true"})
    assert kept.headers["x-confab-session-id"]
    assert sdk.responses.create(model="programmer", input="from the responses api").output_text == "Echo: from the responses api"
    sdk.conversations.create(items=[{"type": "message", "role": "user", "content": "from a conversation"}])

    choose_auth_action(driver, wait, "Sign in")
    fill_auth(driver, username, PASSWORD)
    wait.until(signed_in_as(username))
    expected = {"From Open WebUI", "from chat completions", "from the responses api", "from a conversation"}
    wait.until(lambda d: expected <= set(session_titles(d)))

    # Each holds its messages: the Open WebUI chat's turn, read on the page.
    index = session_titles(driver).index("From Open WebUI")
    click(wait, f".session-item:nth-child({index + 1})")
    wait.until(lambda d: [r.text.split("\n")[0] for r in replies(d)] == ["Echo: hello from open webui"])
    assert [m.text for m in driver.find_elements(By.CSS_SELECTOR, ".message.user")] == ["hello from open webui"]
