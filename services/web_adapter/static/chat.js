// Rapport chat: one WebSocket, JSON frames (see services/web_adapter/protocol.py).
// The transcript and any unsent messages live in localStorage, so a reload shows the
// conversation and a message typed while offline is sent when the connection is back.
// Customer and bot text is always inserted as text, never as HTML. Replies are delivered
// at least once (a restarted adapter may send one again): the transcript keeps each reply's
// event id, and a reply already in it is not shown again.
(() => {
  "use strict";
  const messages = document.getElementById("messages");
  const status = document.getElementById("status");
  const typing = document.getElementById("typing");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const keys = { visitor: "rapport.visitor", transcript: "rapport.transcript", outbox: "rapport.outbox" };
  const maxTranscript = 200;
  let socket = null;
  let retryDelay = 500;
  let typingTimer = null;

  // Storage can be refused (sandboxed or partitioned frames): keep working from memory then.
  const memory = new Map();
  const store = {
    get(key) { try { return localStorage.getItem(key); } catch { return memory.get(key) ?? null; } },
    set(key, value) { try { localStorage.setItem(key, value); } catch { memory.set(key, value); } },
  };
  const load = (key) => { try { return JSON.parse(store.get(key)) || []; } catch { return []; } };
  const save = (key, value) => store.set(key, JSON.stringify(value));
  // randomUUID needs a secure context; an embedding page served over plain HTTP is not one.
  const newId = () => {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };

  function show(entry) {
    const item = document.createElement("li");
    item.className = "message message--" + entry.kind;
    if (entry.sender) {
      const name = document.createElement("span");
      name.className = "message__sender";
      name.textContent = entry.sender;
      item.appendChild(name);
    }
    item.appendChild(document.createTextNode(entry.text));
    messages.appendChild(item);
    messages.scrollTop = messages.scrollHeight;
  }

  function remember(entry) {
    show(entry);
    if (entry.kind === "error") return;
    const transcript = load(keys.transcript);
    transcript.push(entry);
    save(keys.transcript, transcript.slice(-maxTranscript));
  }

  function setTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (on) typingTimer = setTimeout(() => { typing.hidden = true; }, 20000);
  }

  function flushOutbox() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    for (const frame of load(keys.outbox)) socket.send(JSON.stringify(frame));
  }

  function onFrame(frame) {
    if (frame.type === "welcome") {
      store.set(keys.visitor, frame.visitor);
      flushOutbox();
    } else if (frame.type === "ack") {
      save(keys.outbox, load(keys.outbox).filter((f) => f.client_message_id !== frame.client_message_id));
      setTyping(true);
    } else if (frame.type === "reply") {
      setTyping(false);
      if (frame.event_id && load(keys.transcript).some((entry) => entry.id === frame.event_id)) return;
      const person = frame.sender === "agent";
      const name = frame.sender_name || (person ? "Support" : "Assistant");
      remember({
        kind: person ? "agent" : "bot",
        text: frame.text,
        sender: person ? name + " · a person" : name,
        id: frame.event_id,
      });
    } else if (frame.type === "error") {
      show({ kind: "error", text: frame.message });
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const visitor = store.get(keys.visitor) || "";
    socket = new WebSocket(scheme + "//" + location.host + "/ws?visitor=" + encodeURIComponent(visitor));
    socket.addEventListener("open", () => { status.textContent = "online"; retryDelay = 500; });
    socket.addEventListener("close", () => {
      status.textContent = "reconnecting…";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 5000);
    });
    socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const frame = { type: "message", text: text, client_message_id: newId() };
    const outbox = load(keys.outbox);
    outbox.push(frame);
    save(keys.outbox, outbox);
    remember({ kind: "customer", text: text });
    input.value = "";
    flushOutbox();
  });

  for (const entry of load(keys.transcript)) show(entry);
  connect();
})();
