"""maim_message bots against Confab's `/ws/` (Socket.IO v5 over Engine.IO v4, docs/WEBSOCKET.md), driven
by the real, unchanged `maim-message` 0.7.5 in both of its modes:

- the legacy `Router` (one `MessageClient` per platform), which sends `Authorization: <key>` and
  `platform: <name>` and hands the bot's handler each `message` event as a plain dict;
- the API-server `maim_message.client.WebSocketClient`, which sends `x-apikey`/`x-platform`/`x-uuid`,
  wraps every message in a `sys_std` envelope, and calls `on_message(APIMessageBase, meta)` for the
  server's `sys_std` envelopes.

What a bot sees: the reply arriving in its own handler, one conversation per group and platform and
user (the stored history over HTTP), the agent named in the URL or a header, a missing or wrong key
refused, acks for its envelopes, a message sent again (on the same socket or after reconnecting) not
answered twice, and with CONFAB_MAIM_STREAM the reply a sentence at a time. Against a real Confab,
Redis and the test upstream, which answers "Echo: <message>".

Every wait is on something the client or the HTTP API shows, with a generous limit; every client is
stopped by the test that started it.
"""
import asyncio
import logging
import time
import uuid

import pytest
from maim_message import (BaseMessageInfo, GroupInfo, MessageBase, MessageClient, RouteConfig, Router, Seg, TargetConfig,
                          UserInfo)
from maim_message.api_message_base import GroupInfo as APIGroupInfo
from maim_message.api_message_base import SenderInfo
from maim_message.api_message_base import UserInfo as APIUserInfo
from maim_message.client import WebSocketClient, create_client_config
from maim_message.message import APIMessageBase, BaseMessageInfo as APIMessageInfo, MessageDim

from doors import SETTINGS, echo, history, make_agent, prompt_of, register, sessions, upstream_total

TIMEOUT = 30
PLATFORM = "qq_test"
WRONG_KEY = "cfk_" + "x" * 40


@pytest.fixture
def confab(redis_url, test_upstream, start_confab):
    return start_confab(redis_url, test_upstream + "/v1", **SETTINGS)


@pytest.fixture
def key(confab):
    return register(confab)


def run(coroutine, limit=180):
    """Runs one test's conversation; a server that never answers fails it instead of hanging it."""
    asyncio.run(asyncio.wait_for(coroutine, limit))


async def until(condition, what, timeout=TIMEOUT):
    """Polls `condition` while the client's tasks keep running; answers its truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)


def ws_url(base, query=""):
    return base.replace("http://", "ws://", 1) + "/ws" + (f"?{query}" if query else "")


def segment_text(segment):
    """The text of a message segment as a dict (`{"type": "seglist", "data": [...]}`), as a bot reads it."""
    if segment.get("type") == "text":
        return segment.get("data") or ""
    if segment.get("type") == "seglist":
        return "".join(segment_text(s) for s in segment.get("data") or [])
    return ""


async def settled(base, key, session_id, count):
    """The session's history once `count` messages are stored (a reply is stored as its turn ends)."""
    await until(lambda: len(history(base, key, session_id)) >= count, f"{count} stored messages in {session_id}")
    return history(base, key, session_id)


# --- The legacy Router ------------------------------------------------------------------------------

class LegacyBot:
    """A bot as maim_message's README writes one: a Router with one platform, a handler collecting
    what arrives, and `router.send_message(MessageBase)`."""

    def __init__(self, url, key, platform=PLATFORM):
        self.platform = platform
        self.received = []
        self.router = Router(RouteConfig(route_config={platform: TargetConfig(url=url, token=key)}))
        self.router.register_class_handler(self.received.append)
        self.task = None

    async def __aenter__(self):
        self.task = asyncio.create_task(self.router.run())
        await until(lambda: self.router.check_connection(self.platform), "the router to connect")
        return self

    async def __aexit__(self, *exc):
        await self.router.stop()
        await asyncio.wait_for(self.task, TIMEOUT)

    async def send(self, text, group_id=None, user_id="12345", nickname="alice"):
        """Sends a user's message (in a group, or privately without one)."""
        message = MessageBase(
            message_info=BaseMessageInfo(
                platform=self.platform, message_id=uuid.uuid4().hex, time=time.time(),
                user_info=UserInfo(platform=self.platform, user_id=user_id, user_nickname=nickname),
                group_info=GroupInfo(platform=self.platform, group_id=group_id, group_name="test group") if group_id else None),
            message_segment=Seg("seglist", [Seg("text", text)]), raw_message=text)
        assert await self.router.send_message(message) is True

    async def say(self, text, **where):
        """Sends a user's message and answers the reply's dict."""
        seen = len(self.received)
        await self.send(text, **where)
        return await until(lambda: self.received[seen:] and self.received[seen], f"a reply to {text!r}")


def test_the_router_gets_the_reply_in_its_handler(confab, key):
    async def conversation():
        async with LegacyBot(ws_url(confab), key) as bot:
            reply = await bot.say("hello", group_id="98765")
        assert isinstance(reply, dict), reply
        info = reply["message_info"]
        assert info["platform"] == PLATFORM, reply
        assert info["group_info"]["group_id"] == "98765", reply
        assert info["user_info"]["user_id"] == "confab", reply
        assert segment_text(reply["message_segment"]) == echo("hello"), reply
        # A bot reads it back into maim_message's own type.
        assert MessageBase.from_dict(reply).message_info.group_info.group_id == "98765"
        assert len(bot.received) == 1, bot.received
    run(conversation())


def test_a_group_keeps_its_session_and_another_group_gets_its_own(confab, key):
    async def conversation():
        async with LegacyBot(ws_url(confab), key) as bot:
            first = await bot.say("hello", group_id="g-one")
            second = await bot.say("how are you", group_id="g-one")
            assert [segment_text(r["message_segment"]) for r in (first, second)] == [echo("hello"), echo("how are you")]
            [session] = sessions(confab, key)
            assert await settled(confab, key, session["id"], 4) == [
                ("user", "hello"), ("assistant", echo("hello")),
                ("user", "how are you"), ("assistant", echo("how are you"))]

            other = await bot.say("hi there", group_id="g-two")
            assert other["message_info"]["group_info"]["group_id"] == "g-two", other
            assert segment_text(other["message_segment"]) == echo("hi there")
            private = await bot.say("just us", user_id="777", nickname="bob")
            assert segment_text(private["message_segment"]) == echo("just us")
            assert private["message_info"].get("group_info") is None, private

        listed = {s["id"] for s in sessions(confab, key)}
        assert len(listed) == 3 and session["id"] in listed, listed
        new = listed - {session["id"]}
        stored = sorted([await settled(confab, key, sid, 2) for sid in new])
        assert stored == [[("user", "hi there"), ("assistant", echo("hi there"))],
                          [("user", "just us"), ("assistant", echo("just us"))]], stored
        # The first group's session took no more turns.
        assert len(history(confab, key, session["id"])) == 4
    run(conversation())


def test_messages_sent_quicker_than_the_replies_are_answered_in_order(confab, key):
    said = ["one", "two", "three", "four"]

    async def conversation():
        async with LegacyBot(ws_url(confab), key) as bot:
            for text in said:
                await bot.send(text, group_id="busy")
            await until(lambda: len(bot.received) >= len(said), f"{len(said)} replies", timeout=60)
            [session] = sessions(confab, key)
            stored = await settled(confab, key, session["id"], 2 * len(said))
        assert stored == [m for text in said for m in (("user", text), ("assistant", echo(text)))], stored
        assert [segment_text(r["message_segment"]) for r in bot.received] == [echo(text) for text in said]
    run(conversation())


def test_the_agent_named_in_the_url_plays_the_group_chat(confab, key, test_upstream):
    agent = make_agent(confab, key, name="Pirate", persona="You are Captain Flint, a test pirate.")

    async def conversation():
        async with LegacyBot(ws_url(confab, f"agent_id={agent['id']}"), key) as bot:
            reply = await bot.say("ahoy", group_id="crew")
        assert segment_text(reply["message_segment"]) == echo("ahoy")
        [session] = sessions(confab, key)
        assert session["persona"] == agent["id"], session
        prompt = prompt_of(test_upstream)
        assert prompt[0][0] == "system" and "Captain Flint" in prompt[0][1], prompt
        assert prompt[1:] == [("user", "ahoy")], prompt
    run(conversation())


async def attempt(base, token):
    """One connection attempt of the client a Router runs (which would retry every second): True
    once connected."""
    client = MessageClient()
    await client.connect(url=ws_url(base), platform=PLATFORM, token=token)
    try:
        return await client.connection.connect()
    finally:
        await client.stop()


def test_the_router_with_a_wrong_key_cannot_connect(confab, key, test_upstream):
    async def conversation():
        before = upstream_total(test_upstream)
        assert await attempt(confab, WRONG_KEY) is False
        assert await attempt(confab, key) is True
        assert upstream_total(test_upstream) == before
        assert sessions(confab, key) == []
    run(conversation())


def test_with_auth_required_a_missing_or_wrong_key_cannot_connect(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **SETTINGS, CONFAB_AUTH="required")
    key = register(base)

    async def conversation():
        assert await attempt(base, None) is False
        assert await attempt(base, WRONG_KEY) is False
        assert await attempt(base, key) is True
    run(conversation())


def test_another_platform_or_another_user_is_another_conversation(confab, key):
    other_key = register(confab)

    async def conversation():
        for token, platform in ((key, "qq_a"), (key, "qq_b"), (other_key, "qq_a")):
            async with LegacyBot(ws_url(confab), token, platform=platform) as bot:
                reply = await bot.say(f"hello from {platform}", group_id="same-group")
                assert reply["message_info"]["platform"] == platform, reply
                assert segment_text(reply["message_segment"]) == echo(f"hello from {platform}")
        mine = sorted([await settled(confab, key, s["id"], 2) for s in sessions(confab, key)])
        assert mine == [[("user", "hello from qq_a"), ("assistant", echo("hello from qq_a"))],
                        [("user", "hello from qq_b"), ("assistant", echo("hello from qq_b"))]], mine
        [theirs] = sessions(confab, other_key)
        assert await settled(confab, other_key, theirs["id"], 2) == [
            ("user", "hello from qq_a"), ("assistant", echo("hello from qq_a"))]
    run(conversation())


def test_with_confab_maim_stream_the_reply_comes_a_sentence_at_a_time(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **SETTINGS, CONFAB_MAIM_STREAM="true")
    key = register(base)
    said = "First one. Second one! Third?"

    async def conversation():
        async with LegacyBot(ws_url(base), key) as bot:
            await bot.say(said, group_id="g")

            def texts():
                return [segment_text(r["message_segment"]) for r in bot.received]
            await until(lambda: " ".join(texts()) == echo(said), "the whole reply, sentence by sentence")
            [session] = sessions(base, key)
            assert await settled(base, key, session["id"], 2) == [("user", said), ("assistant", echo(said))]
        assert texts() == ["Echo: First one.", "Second one!", "Third?"], texts()
        assert all(r["message_info"]["group_info"]["group_id"] == "g" for r in bot.received), bot.received
    run(conversation())


# --- The API-server WebSocketClient -----------------------------------------------------------------

class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


class APIBot:
    """A bot on maim_message's API-server client. The client reports the server's acks in its log
    (`收到 ACK 确认: acked_msg_id=…`, on the logger the config names); the envelopes it sends are
    recorded on their way to its network driver, so one can be sent again exactly as the client
    re-sends a message whose ack it missed."""

    def __init__(self, url, key, platform="wechat", headers=None):
        self.key, self.platform = key, platform
        self.replies = []
        self.sent = []
        self.records = Records()
        self.logger = logging.getLogger(f"maim-api-{uuid.uuid4().hex[:6]}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.records)

        async def on_message(message, meta):
            self.replies.append((message, meta))

        config = create_client_config(url, key, platform=platform, on_message=on_message,
                                      headers=dict(headers or {}), custom_logger=self.logger)
        self.client = WebSocketClient(config)
        driver_send = self.client.network_driver.send_message

        async def recorded(connection_uuid, package):
            self.sent.append(package)
            return await driver_send(connection_uuid, package)
        self.client.network_driver.send_message = recorded

    async def __aenter__(self):
        await self.client.start()
        assert await self.client.connect() is True
        return self

    async def __aexit__(self, *exc):
        await self.client.stop()

    def acks(self, msg_id):
        return sum(1 for line in self.records.lines if line.startswith("收到 ACK 确认") and line.endswith(f"={msg_id}"))

    async def say(self, text, group_id="g1", user_id="u1"):
        """Sends a user's message; answers its envelope's msg_id."""
        message = APIMessageBase(
            message_info=APIMessageInfo(
                platform=self.platform, message_id=uuid.uuid4().hex, time=time.time(),
                sender_info=SenderInfo(user_info=APIUserInfo(platform=self.platform, user_id=user_id, user_nickname="bob"),
                                       group_info=APIGroupInfo(platform=self.platform, group_id=group_id))),
            message_segment=Seg("seglist", [Seg("text", text)]),
            message_dim=MessageDim(api_key=self.key, platform=self.platform))
        assert await self.client.send_message(message) is True
        return self.sent[-1]["msg_id"]

    def texts(self):
        return [segment_text(m.message_segment.to_dict()) for m, _ in self.replies]


def test_the_api_client_gets_an_ack_and_the_reply(confab, key):
    async def conversation():
        async with APIBot(ws_url(confab), key) as bot:
            msg_id = await bot.say("hello")
            await until(lambda: bot.acks(msg_id), f"the ack of {msg_id}")
            await until(lambda: bot.replies, "the reply in on_message")
        [(message, meta)] = bot.replies
        assert isinstance(message, APIMessageBase)
        assert bot.texts() == [echo("hello")]
        assert message.message_info.platform == "wechat"
        assert message.message_dim.platform == "wechat"
        assert message.message_info.sender_info.group_info.group_id == "g1", message
        assert isinstance(meta, dict), meta
        [session] = sessions(confab, key)
        assert await settled(confab, key, session["id"], 2) == [("user", "hello"), ("assistant", echo("hello"))]
    run(conversation())


def test_a_message_sent_again_is_not_answered_twice(confab, key):
    async def conversation():
        async with APIBot(ws_url(confab), key) as bot:
            msg_id = await bot.say("hello")
            await until(lambda: bot.replies, "the reply to the first message")
            package = bot.sent[-1]
            # The same envelope again, as the client re-sends one whose ack it missed.
            connection = bot.client.get_connection_uuid()
            assert await bot.client.network_driver.send_message(connection, package) is True
            # A new message after it: once its reply is here, the one sent again was dealt with.
            later = await bot.say("and then")
            await until(lambda: len(bot.replies) >= 2, "the reply to the second message")
            await until(lambda: bot.acks(later), f"the ack of {later}")
            # Acked again: a client sends a message again when it missed the ack.
            assert bot.acks(msg_id) == 2
            [session] = sessions(confab, key)
            stored = await settled(confab, key, session["id"], 4)
        assert bot.texts() == [echo("hello"), echo("and then")]
        assert stored == [("user", "hello"), ("assistant", echo("hello")),
                          ("user", "and then"), ("assistant", echo("and then"))]
    run(conversation())


def test_a_message_sent_again_after_a_reconnect_is_not_answered_again(confab, key):
    async def conversation():
        async with APIBot(ws_url(confab), key) as first:
            msg_id = await first.say("hello")
            await until(lambda: first.replies, "the reply on the first connection")
            package = first.sent[-1]
        async with APIBot(ws_url(confab), key) as again:
            # After reconnecting, the client re-sends what it cached, on the new socket.
            assert await again.client.network_driver.send_message(again.client.get_connection_uuid(), package) is True
            later = await again.say("and then")
            await until(lambda: again.replies, "the reply to the new message")
            await until(lambda: again.acks(later), f"the ack of {later}")
            [session] = sessions(confab, key)
            stored = await settled(confab, key, session["id"], 4)
        assert again.texts() == [echo("and then")], again.texts()
        assert stored == [("user", "hello"), ("assistant", echo("hello")),
                          ("user", "and then"), ("assistant", echo("and then"))]
        assert msg_id == package["msg_id"]
    run(conversation())


def test_the_api_client_keeps_a_session_per_group(confab, key):
    async def conversation():
        async with APIBot(ws_url(confab), key) as bot:
            await bot.say("one", group_id="a")
            await until(lambda: len(bot.replies) >= 1, "the first reply")
            await bot.say("two", group_id="a")
            await until(lambda: len(bot.replies) >= 2, "the second reply")
            await bot.say("three", group_id="b")
            await until(lambda: len(bot.replies) >= 3, "the third reply")
        assert bot.texts() == [echo("one"), echo("two"), echo("three")]
        groups = [m.message_info.sender_info.group_info.group_id for m, _ in bot.replies]
        assert groups == ["a", "a", "b"]
        stored = sorted([await settled(confab, key, s["id"], 2) for s in sessions(confab, key)], key=len)
        assert stored == [[("user", "three"), ("assistant", echo("three"))],
                          [("user", "one"), ("assistant", echo("one")), ("user", "two"), ("assistant", echo("two"))]]
    run(conversation())


def test_the_agent_named_in_the_x_confab_agent_header(confab, key, test_upstream):
    agent = make_agent(confab, key, name="Pirate", persona="You are Captain Flint, a test pirate.")

    async def conversation():
        async with APIBot(ws_url(confab), key, headers={"x-confab-agent": agent["id"]}) as bot:
            await bot.say("ahoy")
            await until(lambda: bot.replies, "the reply")
        assert bot.texts() == [echo("ahoy")]
        [session] = sessions(confab, key)
        assert session["persona"] == agent["id"], session
        prompt = prompt_of(test_upstream)
        assert prompt[0][0] == "system" and "Captain Flint" in prompt[0][1], prompt
    run(conversation())


def test_the_api_client_with_a_wrong_key_cannot_connect(confab, key, test_upstream):
    async def conversation():
        before = upstream_total(test_upstream)
        bot = APIBot(ws_url(confab), WRONG_KEY)
        await bot.client.start()
        try:
            # The client waits up to 10 s for the connection, retrying meanwhile.
            assert await bot.client.connect() is False
            assert bot.client.is_connected() is False
        finally:
            await bot.client.stop()
        assert upstream_total(test_upstream) == before
        assert sessions(confab, key) == []
    run(conversation())
