// Confab's page: sessions in a sidebar, replies streamed token by token over SSE.
(function () {
  const $ = (id) => document.getElementById(id);
  const messagesEl = $("messages"), input = $("message-input"), sendBtn = $("send-btn"), stopBtn = $("stop-btn");
  const typing = $("typing-indicator"), statusEl = $("status"), roleSelect = $("role-select");
  // Messages longer than this go by POST: a URL has a length limit, a body does not.
  const LONG_MESSAGE = 1500;

  const userId = localStorage.getItem("confab_user_id") || "web-" + Math.random().toString(36).slice(2, 12);
  localStorage.setItem("confab_user_id", userId);
  $("user-id").textContent = userId;
  let sessionId = localStorage.getItem("confab_session_id");
  let stream = null; // the open stream: { close() }

  function query(params) {
    return Object.entries(params).map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
  }

  async function api(method, path, params, body) {
    const response = await fetch(path + "?" + query(Object.assign({ user_id: userId }, params || {})), {
      method: method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
    return data;
  }

  function showStatus(text) { statusEl.textContent = text || ""; }
  function scrollDown() { messagesEl.scrollTop = messagesEl.scrollHeight; }

  // Renders one message; replies as safe Markdown, the user's own text as plain text.
  function addMessage(message) {
    const el = document.createElement("div");
    el.className = "message " + message.role;
    if (message.id) el.dataset.id = message.id;
    el.dataset.status = message.status || "complete";
    el.appendChild(document.createElement("div")).className = "content";
    setContent(el, message.content || "");
    setBadge(el, message);
    messagesEl.appendChild(el);
    scrollDown();
    return el;
  }

  function setContent(el, text) {
    const content = el.querySelector(".content");
    if (el.classList.contains("user")) content.textContent = text;
    else content.innerHTML = window.ConfabMarkdown.render(text);
    el.dataset.raw = text;
  }

  function setBadge(el, message) {
    let badge = el.querySelector(".badge");
    let text = "";
    if (message.status === "partial") text = message.reason === "shutdown" ? "⚠ partial reply (service restarted)" : "⏹ partial reply (stopped)";
    if (message.status === "error") text = "⚠ error: " + ((message.error && message.error.message) || "the reply failed");
    if (!text) { if (badge) badge.remove(); return; }
    if (!badge) { badge = document.createElement("span"); badge.className = "badge"; el.appendChild(badge); }
    badge.textContent = text;
    el.dataset.status = message.status;
  }

  function setStreaming(on) {
    sendBtn.hidden = on;
    stopBtn.hidden = !on;
    typing.hidden = !on;
  }

  async function loadRoles() {
    const data = await api("GET", "/roles");
    roleSelect.innerHTML = "";
    data.roles.forEach((role) => {
      const option = document.createElement("option");
      option.value = role.id;
      option.textContent = role.name;
      option.title = role.description;
      roleSelect.appendChild(option);
    });
    roleSelect.value = data.default_role;
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
    return data.sessions;
  }

  async function loadHistory() {
    messagesEl.innerHTML = "";
    if (!sessionId) return;
    try {
      const data = await api("GET", "/chat/history", { session_id: sessionId });
      data.messages.forEach(addMessage);
      if (!data.messages.length) addMessage({ role: "assistant", content: "Say hello to start the conversation." }).classList.add("welcome");
    } catch (error) {
      showStatus(error.message);
    }
  }

  async function newChat() {
    stopStreaming();
    const data = await api("POST", "/chat/start", { role: roleSelect.value });
    sessionId = data.session_id;
    localStorage.setItem("confab_session_id", sessionId);
    messagesEl.innerHTML = "";
    addMessage({ role: "assistant", content: data.welcome_message }).classList.add("welcome");
    await loadSessions();
  }

  async function switchSession(id, persona) {
    stopStreaming();
    sessionId = id;
    localStorage.setItem("confab_session_id", id);
    if (persona) roleSelect.value = persona;
    await loadSessions();
    await loadHistory();
  }

  async function deleteSession(id) {
    await api("DELETE", "/chat/sessions/" + encodeURIComponent(id));
    if (id === sessionId) {
      sessionId = null;
      localStorage.removeItem("confab_session_id");
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

  // Handles one SSE data payload; returns true at [DONE].
  function handleEvent(data, reply) {
    if (data === "[DONE]") return true;
    const event = JSON.parse(data);
    if (event.message_id && !event.status) reply.dataset.id = event.message_id;
    if (typeof event.content === "string") {
      setContent(reply, reply.dataset.raw + event.content);
      scrollDown();
    }
    if (event.error) {
      setBadge(reply, { status: event.status || "error", reason: event.reason, error: event.error });
      showStatus(event.error.message);
    }
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
    const reply = addMessage({ role: "assistant", content: "" });
    const fields = { session_id: sessionId, message: text, role: roleSelect.value };
    document.body.dataset.turn = "streaming";
    setStreaming(true);
    if (text.length <= LONG_MESSAGE) {
      const source = new EventSource("/chat/stream?" + query(Object.assign({ user_id: userId }, fields)));
      stream = { close: () => source.close() };
      source.onmessage = (e) => { if (handleEvent(e.data, reply)) { source.close(); finishTurn(); } };
      source.onerror = () => {
        // Refusals (409, 404) arrive here too; close so EventSource does not retry on its own.
        source.close();
        if (stream) { showStatus("the stream was interrupted"); finishTurn(); }
      };
    } else {
      postStream(Object.assign({ user_id: userId }, fields), reply);
    }
  }

  // POST /chat/stream read with fetch, for long messages.
  function postStream(body, reply) {
    const controller = new AbortController();
    stream = { close: () => controller.abort() };
    fetch("/chat/stream", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal: controller.signal })
      .then(async (response) => {
        if (!response.ok) {
          const data = await response.json().catch(() => ({}));
          throw new Error((data.error && data.error.message) || response.statusText);
        }
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
            if (data && handleEvent(data, reply)) return;
          }
        }
      })
      .catch((error) => { if (error.name !== "AbortError") showStatus(error.message); })
      .finally(() => { if (stream) finishTurn(); });
  }

  // Stop: closing the stream tells the server, which stores the partial reply.
  function stopStreaming() {
    if (!stream) return;
    const current = stream;
    stream = null;
    current.close();
    setStreaming(false);
    // Give the server a moment to store the partial reply, then show it as stored.
    setTimeout(reloadAfterTurn, 400);
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

  (async function start() {
    try {
      await loadRoles();
      const sessions = await loadSessions();
      const current = sessions.find((s) => s.id === sessionId);
      if (current) await switchSession(current.id, current.persona);
      else if (sessions.length) await switchSession(sessions[0].id, sessions[0].persona);
      else await newChat();
    } catch (error) {
      showStatus("Confab is not reachable: " + error.message);
    }
  })();
})();
