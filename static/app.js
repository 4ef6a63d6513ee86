// Confab's page: sessions in a sidebar, replies streamed token by token over SSE; accounts,
// agents and API keys for a signed-in user.
(function () {
  const $ = (id) => document.getElementById(id);
  const messagesEl = $("messages"), input = $("message-input"), sendBtn = $("send-btn"), stopBtn = $("stop-btn");
  const typing = $("typing-indicator"), statusEl = $("status"), roleSelect = $("role-select");
  // Messages longer than this go by POST: a URL has a length limit, a body does not.
  const LONG_MESSAGE = 1500;
  // The signed-in account lives in sessionStorage (it ends with the tab), never in localStorage.
  const ACCOUNT_KEY = "confab_account";
  const AGENT_PREFIX = "agt_";
  const EXPIRED = "Your sign-in has expired; please sign in again.";

  const userId = localStorage.getItem("confab_user_id") || "web-" + Math.random().toString(36).slice(2, 12);
  localStorage.setItem("confab_user_id", userId);
  $("user-id").textContent = userId;
  // Signed in: { token, expiresAt, user: { id, username } }; anonymous: null.
  let account = loadAccount();
  let signInRequired = false; // learnt at start: the server answers no one without credentials
  let agents = []; // the signed-in user's agents
  let templates = null; // the agent templates, fetched on first need
  let defaultRole = "";
  let sessionId = loadSessionId();
  let stream = null; // the open stream: { close() }

  function query(params) {
    return Object.entries(params).map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
  }

  // Calls a route of the API. Signed in, the access token goes in the Authorization header
  // (never in a URL); anonymous, user_id names the user, as it always has.
  function api(method, path, params, body) {
    const identity = account ? {} : { user_id: userId };
    return call(method, path + "?" + query(Object.assign(identity, params || {})), body, true);
  }

  // A route that needs no identity (personas, templates, register, log in).
  function publicApi(method, path, body) {
    return call(method, path, body, false);
  }

  async function call(method, url, body, withToken) {
    const token = withToken && account ? account.token : null;
    const response = await fetch(url, { method: method, headers: headers(!!body, token), body: body ? JSON.stringify(body) : undefined });
    if (!response.ok) throw await failure(response, token);
    return response.json().catch(() => ({}));
  }

  function headers(json, token) {
    const result = json ? { "Content-Type": "application/json" } : {};
    if (token) result.Authorization = "Bearer " + token;
    return result;
  }

  // The API's error as an Error with its status and code. When the server no longer takes the
  // token the request carried (it expired, or its user is gone), the user is signed out.
  async function failure(response, token) {
    const data = await response.json().catch(() => ({}));
    const error = new Error((data.error && data.error.message) || response.statusText);
    error.status = response.status;
    error.code = data.error && data.error.code;
    if (token && account && token === account.token && error.status === 401 && error.code === "invalid_credentials") tokenRejected();
    return error;
  }

  function showStatus(text) { statusEl.textContent = text || ""; }
  function scrollDown() { messagesEl.scrollTop = messagesEl.scrollHeight; }

  // Renders one message; replies as safe Markdown, the user's own text as plain text. A reply's
  // blocks (text, reasoning, tool cards) sit in .parts, in the order the model produced them;
  // the badge and the usage line come after.
  function addMessage(message) {
    const el = document.createElement("div");
    el.className = "message " + message.role;
    if (message.id) el.dataset.id = message.id;
    el.dataset.status = message.status || "complete";
    el.appendChild(document.createElement("div")).className = "parts";
    if (message.role !== "user" && Array.isArray(message.parts) && message.parts.length) renderParts(el, message);
    else setText(textBlock(el, false), message.content || "");
    setBadge(el, message);
    if (message.role === "assistant") setUsage(el, message.usage);
    messagesEl.appendChild(el);
    scrollDown();
    return el;
  }

  function partsOf(el) { return el.querySelector(".parts"); }

  // The text block to write to: the last block if it is text (unless a fresh one is asked for
  // and that one already holds text), else a new one at the end.
  function textBlock(el, fresh) {
    const last = partsOf(el).lastElementChild;
    if (last && last.classList.contains("content") && (!fresh || !last.dataset.raw)) return last;
    const block = document.createElement("div");
    block.className = "content";
    block.dataset.raw = "";
    partsOf(el).appendChild(block);
    return block;
  }

  // Safe either way: the user's text goes in as text, a reply through ConfabMarkdown, which
  // escapes everything before it adds its own few tags.
  function setText(block, text) {
    block.dataset.raw = text;
    if (block.closest(".message").classList.contains("user")) block.textContent = text;
    else block.innerHTML = window.ConfabMarkdown.render(text);
  }

  // Appends a non-text block (reasoning, tool card); an empty text block left at the end
  // (the placeholder a streaming reply starts with) goes, so text after the block starts anew.
  function appendBlock(el, block) {
    const last = partsOf(el).lastElementChild;
    if (last && last.classList.contains("content") && !last.dataset.raw) last.remove();
    partsOf(el).appendChild(block);
    return block;
  }

  function reasoningBlock(text) {
    const block = document.createElement("details");
    block.className = "reasoning";
    block.appendChild(document.createElement("summary")).textContent = "Reasoning";
    const body = block.appendChild(document.createElement("div"));
    body.className = "reasoning-text";
    body.textContent = text;
    return block;
  }

  function appendReasoning(block, text) {
    block.querySelector(".reasoning-text").textContent += text;
  }

  // Tool input and output as pretty-printed JSON; a string that holds JSON is shown as that JSON.
  function pretty(value) {
    if (value === undefined) return "";
    if (typeof value === "string") {
      try {
        const parsed = JSON.parse(value);
        if (parsed && typeof parsed === "object") return JSON.stringify(parsed, null, 2);
      } catch (_) { /* plain text */ }
      return value;
    }
    return JSON.stringify(value, null, 2);
  }

  function errorText(error) {
    if (typeof error === "string") return error;
    if (error && typeof error.message === "string") return error.message;
    return pretty(error);
  }

  const TOOL_STATES = { running: "running…", done: "done", error: "error", missing: "no result" };

  // <details class="tool-card" data-tool-name data-tool-call-id data-state>: the summary names
  // the tool and its state; the body holds pre.tool-input, then pre.tool-output or .tool-error.
  function toolCard(call) {
    const card = document.createElement("details");
    card.className = "tool-card";
    card.dataset.toolName = call.name || "tool";
    if (call.tool_call_id) card.dataset.toolCallId = call.tool_call_id;
    const summary = card.appendChild(document.createElement("summary"));
    summary.appendChild(document.createElement("span")).className = "tool-name";
    summary.querySelector(".tool-name").textContent = call.name || "tool";
    summary.appendChild(document.createElement("span")).className = "tool-state";
    const body = card.appendChild(document.createElement("div"));
    body.className = "tool-body";
    addToolSection(body, "Input", "pre", "tool-input", pretty(call.input));
    setToolState(card, "running");
    return card;
  }

  function addToolSection(body, label, tag, className, text) {
    body.appendChild(document.createElement("div")).className = "tool-label";
    body.lastChild.textContent = label;
    const section = body.appendChild(document.createElement(tag));
    section.className = className;
    section.textContent = text;
  }

  function setToolState(card, state) {
    card.dataset.state = state;
    card.querySelector(".tool-state").textContent = TOOL_STATES[state] || state;
  }

  // Fills a card from a tool_result / tool_error event or a stored tool part.
  function setToolResult(card, result) {
    const body = card.querySelector(".tool-body");
    body.querySelectorAll(".tool-output, .tool-error").forEach((section) => {
      section.previousElementSibling.remove(); // its label
      section.remove();
    });
    if (result.error !== undefined && result.error !== null) {
      addToolSection(body, "Error", "div", "tool-error", errorText(result.error));
      setToolState(card, "error");
    } else if (result.output !== undefined) {
      addToolSection(body, "Output", "pre", "tool-output", pretty(result.output));
      setToolState(card, "done");
    } else {
      setToolState(card, "missing");
    }
  }

  // A stored reply's parts: [{type: text|reasoning|tool, ...}]; unknown types are skipped.
  function renderParts(el, message) {
    let sawText = false;
    message.parts.forEach((part) => {
      if (!part || typeof part !== "object") return;
      if (part.type === "text") {
        setText(textBlock(el, true), part.text || "");
        sawText = true;
      } else if (part.type === "reasoning") {
        appendBlock(el, reasoningBlock(part.text || ""));
      } else if (part.type === "tool") {
        setToolResult(appendBlock(el, toolCard(part)), part);
      }
    });
    if (!sawText && message.content) setText(textBlock(el, true), message.content);
  }

  // "42 tokens (12 prompt + 30 completion)", with "≈ " in front when estimated.
  function setUsage(el, usage) {
    let line = el.querySelector(".usage");
    if (!usage || typeof usage !== "object") { if (line) line.remove(); return; }
    const prompt = Number(usage.prompt_tokens) || 0, completion = Number(usage.completion_tokens) || 0;
    const total = Number(usage.total_tokens) || prompt + completion;
    if (!line) { line = document.createElement("div"); line.className = "usage"; el.appendChild(line); }
    line.dataset.totalTokens = String(total);
    line.dataset.estimated = usage.estimated ? "true" : "false";
    line.textContent = (usage.estimated ? "≈ " : "") + total + " tokens (" + prompt + " prompt + " + completion + " completion)";
  }

  function setBadge(el, message) {
    let badge = el.querySelector(".badge");
    let text = "";
    if (message.status === "partial") text = message.reason === "shutdown" ? "⚠ partial reply (service restarted)" : "⏹ partial reply (stopped)";
    if (message.status === "error") text = "⚠ error: " + ((message.error && message.error.message) || "the reply failed");
    if (!text) { if (badge) badge.remove(); return; }
    if (!badge) { badge = document.createElement("span"); badge.className = "badge"; el.insertBefore(badge, el.querySelector(".usage")); }
    badge.textContent = text;
    el.dataset.status = message.status;
  }

  function setStreaming(on) {
    sendBtn.hidden = on;
    stopBtn.hidden = !on;
    typing.hidden = !on;
  }

  function option(value, text, title) {
    const el = document.createElement("option");
    el.value = value;
    el.textContent = text;
    if (title) el.title = title;
    return el;
  }

  async function loadRoles() {
    const data = await publicApi("GET", "/roles");
    roleSelect.innerHTML = "";
    data.roles.forEach((role) => roleSelect.appendChild(option(role.id, role.name, role.description)));
    defaultRole = data.default_role;
    roleSelect.value = defaultRole;
  }

  async function loadSessions() {
    const data = await api("GET", "/chat/sessions");
    const list = $("session-list");
    list.innerHTML = "";
    data.sessions.forEach((session) => {
      const item = document.createElement("li");
      item.className = "session-item" + (session.id === sessionId ? " active" : "");
      item.dataset.id = session.id;
      const title = document.createElement("span");
      title.className = "session-title";
      title.textContent = session.title || "New chat";
      item.appendChild(title);
      const remove = document.createElement("button");
      remove.className = "session-delete";
      remove.type = "button";
      remove.title = "Delete this chat";
      remove.textContent = "×";
      remove.addEventListener("click", (event) => { event.stopPropagation(); deleteSession(session.id); });
      item.appendChild(remove);
      item.addEventListener("click", () => switchSession(session.id, session.persona));
      list.appendChild(item);
    });
    setSessionUsage(data.sessions.find((session) => session.id === sessionId));
    return data.sessions;
  }

  // The current session's total tokens, in the header.
  function setSessionUsage(session) {
    const el = $("session-usage");
    const usage = session && session.usage;
    if (!usage || typeof usage !== "object") { el.hidden = true; el.textContent = ""; return; }
    const total = Number(usage.total_tokens) || (Number(usage.prompt_tokens) || 0) + (Number(usage.completion_tokens) || 0);
    el.dataset.totalTokens = String(total);
    el.textContent = "Session: " + total + " tokens";
    el.hidden = false;
  }

  // Which collapsible blocks are open, so re-rendering the history keeps them open.
  function openDetails() {
    return new Set(Array.from(messagesEl.querySelectorAll("details[open]")).map(detailsKey));
  }

  function detailsKey(details) {
    const message = details.closest(".message");
    const kind = details.classList.contains("tool-card") ? "tool" : "reasoning";
    const index = Array.from(message.querySelectorAll("details." + (kind === "tool" ? "tool-card" : "reasoning"))).indexOf(details);
    return (message.dataset.id || "") + "|" + kind + "|" + (details.dataset.toolCallId || index);
  }

  // A welcome line; in a chat with one of the user's agents, it offers the agent's opening
  // topics, each sent with a click.
  function addWelcome(text) {
    const el = addMessage({ role: "assistant", content: text });
    el.classList.add("welcome");
    const topics = openingTopics(roleSelect.value);
    if (topics.length) el.appendChild(suggestions(topics));
    scrollDown();
    return el;
  }

  function suggestions(topics) {
    const box = document.createElement("div");
    box.className = "suggestions";
    topics.forEach((topic) => {
      const chip = box.appendChild(document.createElement("button"));
      chip.type = "button";
      chip.className = "suggestion";
      chip.textContent = topic;
      chip.addEventListener("click", () => { input.value = topic; $("composer").requestSubmit(); });
    });
    return box;
  }

  async function loadHistory() {
    const wasOpen = openDetails();
    messagesEl.innerHTML = "";
    if (!sessionId) return;
    try {
      const data = await api("GET", "/chat/history", { session_id: sessionId });
      data.messages.forEach(addMessage);
      messagesEl.querySelectorAll("details").forEach((details) => { if (wasOpen.has(detailsKey(details))) details.open = true; });
      scrollDown();
      if (!data.messages.length) addWelcome("Say hello to start the conversation.");
    } catch (error) {
      showStatus(error.message);
    }
  }

  // The chat shown last, per user: the anonymous user's in localStorage, as before; an
  // account's in sessionStorage, like its token.
  function sessionKey() { return account ? "confab_session_id:" + account.user.id : "confab_session_id"; }
  function sessionStore() { return account ? sessionStorage : localStorage; }
  function loadSessionId() { return sessionStore().getItem(sessionKey()); }

  function rememberSession(id) {
    sessionId = id;
    if (id) sessionStore().setItem(sessionKey(), id);
    else sessionStore().removeItem(sessionKey());
  }

  // What a new chat or a turn asks for: one of the user's agents (agent_id) or a persona (role).
  function personaFields() {
    const value = roleSelect.value;
    return value.startsWith(AGENT_PREFIX) ? { agent_id: value } : { role: value };
  }

  async function newChat() {
    stopStreaming();
    const data = await api("POST", "/chat/start", personaFields());
    rememberSession(data.session_id);
    messagesEl.innerHTML = "";
    addWelcome(data.welcome_message);
    await loadSessions();
  }

  async function switchSession(id, persona) {
    stopStreaming();
    rememberSession(id);
    if (persona) roleSelect.value = persona;
    await loadSessions();
    await loadHistory();
  }

  async function deleteSession(id) {
    await api("DELETE", "/chat/sessions/" + encodeURIComponent(id));
    if (id === sessionId) {
      rememberSession(null);
      messagesEl.innerHTML = "";
    }
    const sessions = await loadSessions();
    if (!sessionId && sessions.length) await switchSession(sessions[0].id, sessions[0].persona);
  }

  async function clearHistory() {
    if (!sessionId) return;
    stopStreaming();
    await api("DELETE", "/chat/history/" + encodeURIComponent(sessionId));
    await loadHistory();
    await loadSessions();
  }

  // The state of one streaming reply: its element, its tool cards by call id, and whether the
  // next text or reasoning starts a new block (after a step begins).
  function newTurn(reply) {
    return { reply: reply, cards: new Map(), fresh: false };
  }

  function appendText(turn, text) {
    const block = textBlock(turn.reply, turn.fresh);
    turn.fresh = false;
    setText(block, block.dataset.raw + text);
  }

  function appendReasoningPiece(turn, text) {
    const last = partsOf(turn.reply).lastElementChild;
    if (!turn.fresh && last && last.classList.contains("reasoning")) appendReasoning(last, text);
    else appendBlock(turn.reply, reasoningBlock(text));
    turn.fresh = false;
  }

  function cardFor(turn, event) {
    let card = event.tool_call_id ? turn.cards.get(event.tool_call_id) : undefined;
    if (!card) {
      // A result without its call (or without an id): the last running card of that name, else a new card.
      const running = Array.from(turn.reply.querySelectorAll('.tool-card[data-state="running"]'))
        .filter((c) => c.dataset.toolName === (event.name || "tool"));
      card = running.length && !event.tool_call_id ? running[running.length - 1] : appendBlock(turn.reply, toolCard(event));
      if (event.tool_call_id) turn.cards.set(event.tool_call_id, card);
    }
    return card;
  }

  // At the end of the reply, a tool that never answered shows so.
  function settleCards(turn) {
    turn.reply.querySelectorAll('.tool-card[data-state="running"]').forEach((card) => setToolState(card, "missing"));
  }

  function endWithError(turn, event) {
    settleCards(turn);
    setBadge(turn.reply, { status: event.status || "error", reason: event.reason, error: event.error });
    showStatus(errorText(event.error) || "the reply failed");
  }

  function endWithFinish(turn, event) {
    settleCards(turn);
    if (event.usage) setUsage(turn.reply, event.usage);
  }

  // Handles one SSE data payload; returns true at [DONE]. Events without a type are today's
  // (start, content, finish, error); typed ones add steps, reasoning, tools and usage. Unknown
  // types are ignored.
  function handleEvent(data, turn) {
    if (data === "[DONE]") return true;
    let event;
    try { event = JSON.parse(data); } catch (_) { return false; }
    if (!event || typeof event !== "object") return false;
    const reply = turn.reply;
    switch (event.type) {
      case undefined:
      case null:
        if (typeof event.content === "string") appendText(turn, event.content);
        else if (event.error) endWithError(turn, event);
        else if (event.finish_reason) endWithFinish(turn, event);
        else if (event.message_id && !event.status) reply.dataset.id = event.message_id;
        break;
      case "start":
        if (event.message_id) reply.dataset.id = event.message_id;
        break;
      case "step_start":
      case "step_finish":
        turn.fresh = true;
        break;
      case "reasoning": {
        const text = typeof event.content === "string" ? event.content : event.text;
        if (typeof text === "string") appendReasoningPiece(turn, text);
        break;
      }
      case "tool_input_start": // the model began a call: its card shows now, its input comes with tool_call
      case "tool_call": {
        const known = event.tool_call_id && turn.cards.get(event.tool_call_id);
        if (known) {
          if (event.input !== undefined) known.querySelector(".tool-input").textContent = pretty(event.input);
        } else {
          const card = appendBlock(reply, toolCard(event));
          if (event.tool_call_id) turn.cards.set(event.tool_call_id, card);
        }
        turn.fresh = true;
        break;
      }
      case "tool_result":
        setToolResult(cardFor(turn, event), { output: event.output === undefined ? null : event.output });
        break;
      case "tool_error":
        setToolResult(cardFor(turn, event), { error: event.error === undefined ? "the tool failed" : event.error });
        break;
      case "usage":
        setUsage(reply, event.usage);
        break;
      case "finish":
        endWithFinish(turn, event);
        break;
      case "error":
        endWithError(turn, event);
        break;
      default:
        return false; // a newer event this page does not know
    }
    scrollDown();
    return false;
  }

  // Reloads so every message shows as stored, with its real id and status; then marks the page
  // idle (body[data-turn=done]), which is what tests and scripts wait for.
  async function reloadAfterTurn() {
    await loadHistory();
    await loadSessions();
    document.body.dataset.turn = "done";
  }

  function finishTurn() {
    stream = null;
    setStreaming(false);
    return reloadAfterTurn();
  }

  function send(text) {
    const turn = newTurn(addMessage({ role: "assistant", content: "" }));
    const fields = Object.assign({ session_id: sessionId, message: text }, personaFields());
    document.body.dataset.turn = "streaming";
    setStreaming(true);
    if (text.length <= LONG_MESSAGE) getStream(fields, turn);
    else postStream(fields, turn);
  }

  // GET /chat/stream read with EventSource. It cannot send headers: anonymous, the URL names
  // the user; signed in, it carries a single-use ticket (the token itself never goes in a URL).
  function getStream(fields, turn) {
    if (!account) { openEventSource(query(Object.assign({ user_id: userId }, fields)), turn); return; }
    const current = { close: () => {} }; // stopped while the ticket is on its way: nothing to close
    stream = current;
    api("POST", "/api/v1/auth/ticket")
      .then((data) => { if (stream === current) openEventSource(query(Object.assign({ ticket: data.ticket }, fields)), turn); })
      .catch((error) => { if (stream === current) { showStatus(error.message); finishTurn(); } });
  }

  function openEventSource(params, turn) {
    const source = new EventSource("/chat/stream?" + params);
    stream = { close: () => source.close() };
    source.onmessage = (e) => { if (handleEvent(e.data, turn)) { source.close(); finishTurn(); } };
    source.onerror = () => {
      // Refusals (409, 404) arrive here too; close so EventSource does not retry on its own.
      source.close();
      if (stream) { showStatus("the stream was interrupted"); finishTurn(); }
    };
  }

  // POST /chat/stream read with fetch, for long messages; signed in, with the token in a header.
  function postStream(fields, turn) {
    const controller = new AbortController();
    stream = { close: () => controller.abort() };
    const token = account ? account.token : null;
    const body = token ? fields : Object.assign({ user_id: userId }, fields);
    fetch("/chat/stream", { method: "POST", headers: headers(true, token), body: JSON.stringify(body), signal: controller.signal })
      .then(async (response) => {
        if (!response.ok) throw await failure(response, token);
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
            if (data && handleEvent(data, turn)) return;
          }
        }
      })
      .catch((error) => { if (error.name !== "AbortError") showStatus(error.message); })
      .finally(() => { if (stream) finishTurn(); });
  }

  // Stop: closing the stream tells the server, which stores the partial reply.
  function stopStreaming() {
    if (!dropStream()) return;
    // Give the server a moment to store the partial reply, then show it as stored.
    setTimeout(reloadAfterTurn, 400);
  }

  // Closes the open stream, if any, without reloading; true if there was one.
  function dropStream() {
    if (!stream) return false;
    const current = stream;
    stream = null;
    current.close();
    setStreaming(false);
    return true;
  }

  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim() || stream) return;
    showStatus("");
    try {
      if (!sessionId) await newChat();
      messagesEl.querySelectorAll(".welcome").forEach((el) => el.remove());
      addMessage({ role: "user", content: text });
      input.value = "";
      send(text);
    } catch (error) {
      showStatus(error.message);
    }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("composer").requestSubmit(); }
  });
  stopBtn.addEventListener("click", stopStreaming);
  $("new-chat-btn").addEventListener("click", () => newChat().catch((e) => showStatus(e.message)));
  $("clear-btn").addEventListener("click", () => clearHistory().catch((e) => showStatus(e.message)));

  // ---- Accounts: sign in, register, sign out ----

  function loadAccount() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(ACCOUNT_KEY) || "null");
      if (saved && saved.token && saved.user && Date.now() < saved.expiresAt) return saved;
    } catch (_) { /* unreadable: as if signed out */ }
    sessionStorage.removeItem(ACCOUNT_KEY);
    return null;
  }

  // From a register or log-in answer: the access token, how long it lasts, and the user.
  function saveAccount(data) {
    account = {
      token: data.access_token,
      expiresAt: Date.now() + (Number(data.expires_in) || 0) * 1000,
      user: { id: data.user.id, username: data.user.username },
    };
    sessionStorage.setItem(ACCOUNT_KEY, JSON.stringify(account));
  }

  function forgetAccount() {
    account = null;
    sessionStorage.removeItem(ACCOUNT_KEY);
  }

  // Whether this Confab answers no one without credentials (CONFAB_AUTH=required): the chat
  // API, asked anonymously, says 401 credentials_required. Otherwise signing in is optional.
  async function needsSignIn() {
    const response = await fetch("/chat/sessions?" + query({ user_id: userId, limit: 1 }));
    if (response.status !== 401) return false;
    const data = await response.json().catch(() => ({}));
    return !!(data.error && data.error.code === "credentials_required");
  }

  // A saved token the server no longer takes (it expired, or the service restarted with
  // another signing key) is forgotten before the page starts; false if so.
  async function savedAccountValid() {
    if (!account) return true;
    const response = await fetch("/api/v1/me", { headers: headers(false, account.token) });
    if (response.status === 401) { forgetAccount(); return false; }
    return true;
  }

  // Shows the page for whoever is here: the sign-in form when the server needs an account and
  // there is none; else the user's chats (an account's, or the anonymous user's as before).
  async function enter() {
    showAccount();
    sessionId = loadSessionId();
    if (!account && signInRequired) { openAuthPanel(); return; }
    await loadAgents();
    const sessions = await loadSessions();
    const current = sessions.find((s) => s.id === sessionId);
    if (current) await switchSession(current.id, current.persona);
    else if (sessions.length) await switchSession(sessions[0].id, sessions[0].persona);
    else await newChat();
  }

  // The sidebar's account block: the anonymous id and "Sign in", or the username and "Sign out".
  function showAccount() {
    $("anonymous-account").hidden = !!account || signInRequired;
    $("user-account").hidden = !account;
    $("username").textContent = account ? account.user.username : "";
    $("new-agent-btn").hidden = !account;
  }

  // Leaves whoever's chats show: no stream, no messages, no sessions, no agents.
  function clearChat() {
    dropStream();
    sessionId = null;
    messagesEl.innerHTML = "";
    $("session-list").innerHTML = "";
    setSessionUsage(null);
    showStatus("");
    agents = [];
    renderAgents();
    roleSelect.value = defaultRole;
  }

  async function signIn(data) {
    clearChat();
    saveAccount(data);
    closeAuthPanel();
    await enter();
  }

  function signOut() {
    clearChat();
    closeKeysPanel();
    forgetAccount();
    return enter();
  }

  // The server refused the token (expired, or its user deleted): sign out and ask again.
  function tokenRejected() {
    if (!account) return;
    closeKeysPanel();
    closeAgentPanel();
    clearChat();
    forgetAccount();
    showAccount();
    openAuthPanel(EXPIRED);
    if (!signInRequired) enter().catch((error) => showStatus(error.message));
  }

  let authAction = "login"; // or "register"

  function openAuthPanel(message) {
    setAuthAction(authAction);
    $("auth-error").textContent = message || "";
    $("auth-note").hidden = !signInRequired;
    $("auth-cancel").hidden = signInRequired;
    $("auth-panel").hidden = false;
    $("auth-username").focus();
  }

  function closeAuthPanel() {
    $("auth-panel").hidden = true;
    $("auth-password").value = "";
    $("auth-error").textContent = "";
  }

  function setAuthAction(action) {
    authAction = action;
    const register = action === "register";
    $("auth-title").textContent = register ? "Create an account" : "Sign in";
    $("auth-submit").textContent = register ? "Create account" : "Sign in";
    $("auth-switch").textContent = register ? "I have an account" : "Create an account";
    $("auth-email-row").hidden = !register;
    $("auth-password").autocomplete = register ? "new-password" : "current-password";
  }

  function authRequestBody() {
    const body = { username: $("auth-username").value.trim(), password: $("auth-password").value };
    const email = $("auth-email").value.trim();
    if (authAction === "register" && email) body.email = email;
    return body;
  }

  async function submitAuth(event) {
    event.preventDefault();
    const path = authAction === "register" ? "/api/v1/auth/register" : "/api/v1/auth/login";
    $("auth-submit").disabled = true;
    $("auth-error").textContent = "";
    let data;
    try {
      data = await publicApi("POST", path, authRequestBody());
    } catch (error) {
      $("auth-error").textContent = error.message;
      return;
    } finally {
      $("auth-submit").disabled = false;
    }
    await signIn(data).catch((error) => showStatus(error.message));
  }

  // ---- Agents: made from a template, chosen like a persona ----

  async function loadTemplates() {
    if (!templates) templates = (await publicApi("GET", "/api/v1/agents/templates")).templates;
    return templates;
  }

  async function loadAgents() {
    if (!account) { agents = []; renderAgents(); return; }
    const data = await api("GET", "/api/v1/agents");
    agents = data.agents;
    if (agents.length) await loadTemplates(); // for their opening topics
    renderAgents();
  }

  // The user's agents, after the personas in the persona select, in a group of their own.
  function renderAgents() {
    const chosen = roleSelect.value;
    const old = roleSelect.querySelector("optgroup.agents");
    if (old) old.remove();
    if (!agents.length) return;
    const group = document.createElement("optgroup");
    group.className = "agents";
    group.label = "My agents";
    agents.forEach((agent) => group.appendChild(option(agent.id, agent.name, "Agent: " + agent.name)));
    roleSelect.appendChild(group);
    roleSelect.value = chosen;
  }

  function template(id) {
    return (templates || []).find((t) => t.id === id);
  }

  // The opening topics of a persona select value, when it names one of the user's agents.
  function openingTopics(value) {
    const agent = agents.find((a) => a.id === value);
    const source = agent && template(agent.template_id);
    return source && Array.isArray(source.opening_topics) ? source.opening_topics : [];
  }

  async function openAgentPanel() {
    const select = $("template-select");
    if (!select.options.length) (await loadTemplates()).forEach((t) => select.appendChild(option(t.id, t.name)));
    showTemplate();
    $("agent-error").textContent = "";
    $("agent-panel").hidden = false;
    $("agent-name").focus();
  }

  function closeAgentPanel() {
    $("agent-panel").hidden = true;
  }

  // The chosen template's description and opening topics.
  function showTemplate() {
    const chosen = template($("template-select").value);
    $("template-description").textContent = chosen ? chosen.description : "";
    const list = $("template-topics");
    list.innerHTML = "";
    (chosen ? chosen.opening_topics || [] : []).forEach((topic) => { list.appendChild(document.createElement("li")).textContent = topic; });
    $("template-topics-box").hidden = !list.children.length;
  }

  async function createAgent(event) {
    event.preventDefault();
    $("agent-error").textContent = "";
    let agent;
    try {
      agent = await api("POST", "/api/v1/agents", null, { name: $("agent-name").value.trim(), template_id: $("template-select").value });
    } catch (error) {
      $("agent-error").textContent = error.message;
      return;
    }
    agents.push(agent);
    renderAgents();
    roleSelect.value = agent.id;
    $("agent-name").value = "";
    closeAgentPanel();
    await newChat();
  }

  // ---- API keys: listed without their secrets; a new one's secret shown once ----

  async function openKeysPanel() {
    hideNewKey();
    $("keys-error").textContent = "";
    $("keys-panel").hidden = false;
    $("key-name").focus();
    await loadKeys();
  }

  // Closing forgets the new key's secret (it is shown this once) and the list (read afresh
  // at the next opening).
  function closeKeysPanel() {
    hideNewKey();
    $("key-list").innerHTML = "";
    $("keys-panel").hidden = true;
  }

  async function loadKeys() {
    const data = await api("GET", "/api/v1/keys");
    const list = $("key-list");
    list.innerHTML = "";
    data.keys.forEach((key) => list.appendChild(keyItem(key)));
  }

  function keyItem(key) {
    const item = document.createElement("li");
    item.className = "key-item";
    item.dataset.id = key.id;
    item.appendChild(document.createElement("span")).className = "key-name";
    item.lastChild.textContent = key.name;
    item.appendChild(document.createElement("code")).className = "key-prefix";
    item.lastChild.textContent = key.prefix + "…";
    item.appendChild(document.createElement("span")).className = "key-date";
    item.lastChild.textContent = key.created_at ? new Date(key.created_at * 1000).toLocaleDateString() : "";
    const revoke = item.appendChild(document.createElement("button"));
    revoke.type = "button";
    revoke.className = "key-revoke";
    revoke.textContent = "Revoke";
    revoke.addEventListener("click", () => revokeKey(key).catch((e) => { $("keys-error").textContent = e.message; }));
    return item;
  }

  async function createKey(event) {
    event.preventDefault();
    $("keys-error").textContent = "";
    const created = await api("POST", "/api/v1/keys", null, { name: $("key-name").value.trim() });
    $("key-name").value = "";
    showNewKey(created.key);
    await loadKeys();
  }

  async function revokeKey(key) {
    if (!window.confirm('Revoke the key "' + key.name + '"? Anything using it stops working.')) return;
    await api("DELETE", "/api/v1/keys/" + encodeURIComponent(key.id));
    await loadKeys();
  }

  function showNewKey(secret) {
    $("new-key-secret").textContent = secret;
    $("new-key-copied").hidden = true;
    $("new-key").hidden = false;
  }

  function hideNewKey() {
    $("new-key-secret").textContent = "";
    $("new-key").hidden = true;
  }

  // The clipboard API, else (older browsers, or no permission) a selection and execCommand.
  async function copyNewKey() {
    const secret = $("new-key-secret").textContent;
    try {
      await navigator.clipboard.writeText(secret);
    } catch (_) {
      window.getSelection().selectAllChildren($("new-key-secret"));
      document.execCommand("copy");
    }
    $("new-key-copied").hidden = false;
  }

  // ---- Wiring ----

  function reportTo(id) {
    return (error) => { $(id).textContent = error.message; };
  }

  $("sign-in-btn").addEventListener("click", () => openAuthPanel());
  $("sign-out-btn").addEventListener("click", () => signOut().catch((e) => showStatus(e.message)));
  $("auth-form").addEventListener("submit", submitAuth);
  $("auth-switch").addEventListener("click", () => { setAuthAction(authAction === "login" ? "register" : "login"); $("auth-error").textContent = ""; });
  $("auth-cancel").addEventListener("click", closeAuthPanel);
  $("new-agent-btn").addEventListener("click", () => openAgentPanel().catch((e) => showStatus(e.message)));
  $("template-select").addEventListener("change", showTemplate);
  $("agent-form").addEventListener("submit", (event) => createAgent(event).catch(reportTo("agent-error")));
  $("agent-cancel").addEventListener("click", closeAgentPanel);
  $("keys-btn").addEventListener("click", () => openKeysPanel().catch(reportTo("keys-error")));
  $("key-form").addEventListener("submit", (event) => createKey(event).catch(reportTo("keys-error")));
  $("new-key-copy").addEventListener("click", copyNewKey);
  $("keys-close").addEventListener("click", closeKeysPanel);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    closeKeysPanel();
    closeAgentPanel();
    if (!signInRequired || account) closeAuthPanel();
  });

  (async function start() {
    try {
      await loadRoles();
      signInRequired = await needsSignIn();
      const expired = !(await savedAccountValid());
      await enter();
      if (expired) openAuthPanel(EXPIRED);
    } catch (error) {
      showStatus("Confab is not reachable: " + error.message);
    }
  })();
})();
