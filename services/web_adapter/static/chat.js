// Rapport chat widget: one WebSocket, JSON frames (see services/web_adapter/protocol.py).
// Customer and bot text is always inserted as text, never as HTML.
(() => {
  "use strict";
  const messages = document.getElementById("messages");
  const status = document.getElementById("status");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const storageKey = "rapport.visitor";
  let socket = null;
  let retryDelay = 500;

  function show(kind, text, sender) {
    const item = document.createElement("li");
    item.className = "message message--" + kind;
    if (sender) {
      const name = document.createElement("span");
      name.className = "message__sender";
      name.textContent = sender;
      item.appendChild(name);
    }
    item.appendChild(document.createTextNode(text));
    messages.appendChild(item);
    messages.scrollTop = messages.scrollHeight;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const visitor = localStorage.getItem(storageKey) || "";
    socket = new WebSocket(scheme + "//" + location.host + "/ws?visitor=" + encodeURIComponent(visitor));
    socket.addEventListener("open", () => { status.textContent = "online"; retryDelay = 500; });
    socket.addEventListener("close", () => {
      status.textContent = "reconnecting…";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "welcome") {
        localStorage.setItem(storageKey, frame.visitor);
      } else if (frame.type === "reply") {
        show(frame.sender === "agent" ? "agent" : "bot", frame.text, frame.sender_name);
      } else if (frame.type === "error") {
        show("error", frame.message);
      }
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ type: "message", text: text, client_message_id: crypto.randomUUID() }));
    show("customer", text);
    input.value = "";
  });

  connect();
})();
