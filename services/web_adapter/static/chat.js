// Rapport chat: one WebSocket, JSON frames (see services/web_adapter/protocol.py).
// The transcript and any unsent messages live in localStorage, so a reload shows the
// conversation and a message typed while offline is sent when the connection is back.
// Customer and bot text is always inserted as text, never as HTML. Replies are delivered
// at least once (a restarted adapter may send one again): the transcript keeps each reply's
// event id, and a reply already in it is not shown again.
// Messages go one at a time, oldest first, each after the previous one's ack, so they
// reach Rapport in the order they were typed even when some must be sent again. When
// Rapport cannot take one yet (a "pending" frame: its broker is away), the page says it
// is reconnecting and sends it again later; nothing typed is lost or reported lost.
// An attached image is uploaded first (POST /upload answers its reference); the message
// frame then names it, the text being its caption. The transcript keeps the image's name;
// the picture itself is shown from the visitor's own file until the page is reloaded.
// A reply's quick replies are buttons under it; pressing one sends its title as the
// visitor's message, just as if typed. Only the latest message's buttons are offered: any
// message after it (or pressing one) takes them away, so none can be sent twice.
// Embedded by widget.js, the page closes on Escape by asking its host page, whose origin
// it learns from the host's own first message (never "*"), to close it.
// The typing indicator is Rapport's word, never a guess: it shows when a "typing" frame
// says the bot is preparing the reply to a message, and goes when that reply comes (or
// after a while). A person in charge, or a bot that stays quiet, shows none. A frame
// for a message whose reply is already here (delivered again) is ignored. It is a status
// (role="status", always there and empty when idle) so screen readers say it too.
(() => {
  "use strict";
  const conversation = document.getElementById("conversation"); // the live region, scrolled
  const messages = document.getElementById("messages"); // its list of messages
  const status = document.getElementById("status");
  const typing = document.getElementById("typing");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const attach = document.getElementById("attach");
  const picker = document.getElementById("image");
  const chosen = document.getElementById("chosen");
  const keys = { visitor: "rapport.visitor", transcript: "rapport.transcript", outbox: "rapport.outbox" };
  const maxTranscript = 200;
  const typingTimeoutMs = 20000;
  const preparing = new Map(); // in_reply_to of each reply being prepared → its timeout
  let socket = null;
  let retryDelay = 500;
  let inFlight = null; // client_message_id of the message sent and not yet answered
  let resendTimer = null;
  let hostOrigin = null; // the embedding page's origin, once widget.js has said hello

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

  // Buttons of earlier messages are no longer offered once the conversation moves on.
  function withdrawQuickReplies() {
    for (const group of messages.querySelectorAll(".message__replies")) group.remove();
  }

  function showQuickReplies(item, replies) {
    const group = document.createElement("div");
    group.className = "message__replies";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Suggested replies");
    for (const reply of replies) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "quick-reply";
      button.textContent = reply.title;
      button.addEventListener("click", () => {
        group.remove();
        input.focus(); // the button is gone: keep the keyboard where the conversation goes on
        send(reply.title, null);
      });
      group.appendChild(button);
    }
    item.appendChild(group);
  }

  function show(entry, preview, offerReplies = true) {
    if (entry.kind !== "error") withdrawQuickReplies();
    const item = document.createElement("li");
    item.className = "message message--" + entry.kind;
    if (entry.sender) {
      const name = document.createElement("span");
      name.className = "message__sender";
      name.textContent = entry.sender;
      item.appendChild(name);
    }
    if (preview) {
      const image = document.createElement("img");
      image.className = "message__image";
      image.src = preview;
      image.alt = entry.image;
      item.appendChild(image);
    } else if (entry.image) {
      const named = document.createElement("span");
      named.className = "message__attachment";
      named.textContent = "Image: " + entry.image;
      item.appendChild(named);
    }
    item.appendChild(document.createTextNode(entry.text));
    const replies = (entry.quick_replies || []).filter((reply) => reply && reply.title);
    if (offerReplies && replies.length) showQuickReplies(item, replies);
    messages.appendChild(item);
    conversation.scrollTop = conversation.scrollHeight;
  }

  function remember(entry, preview) {
    show(entry, preview);
    if (entry.kind === "error") return;
    const transcript = load(keys.transcript);
    transcript.push(entry);
    save(keys.transcript, transcript.slice(-maxTranscript));
  }

  function choose(file) {
    chosen.replaceChildren();
    chosen.hidden = !file;
    if (!file) {
      picker.value = "";
      return;
    }
    chosen.append("Image: " + file.name);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.addEventListener("click", () => choose(null));
    chosen.appendChild(remove);
  }

  // The image's bytes go first; Rapport checks what they are and answers their reference.
  async function upload(file) {
    const response = await fetch("/upload", { method: "POST", body: file });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.message || "the image could not be sent");
    return answer.reference;
  }

  function typingStarted(frame) {
    const message = frame.in_reply_to;
    if (!message || preparing.has(message)) return;
    if (load(keys.transcript).some((entry) => entry.in_reply_to === message)) return;
    preparing.set(message, setTimeout(() => typingEnded(message), typingTimeoutMs));
    typing.textContent = (frame.sender_name || "Assistant") + " is typing…";
  }

  function typingEnded(message) {
    clearTimeout(preparing.get(message));
    preparing.delete(message);
    if (preparing.size === 0) typing.textContent = "";
  }

  function flushOutbox() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const [next] = load(keys.outbox);
    if (!next || inFlight === next.client_message_id) return;
    inFlight = next.client_message_id;
    socket.send(JSON.stringify(next));
  }

  function answered(clientMessageId) {
    save(keys.outbox, load(keys.outbox).filter((f) => f.client_message_id !== clientMessageId));
    if (inFlight === clientMessageId) inFlight = null;
    flushOutbox();
  }

  function onFrame(frame) {
    if (frame.type === "welcome") {
      store.set(keys.visitor, frame.visitor);
      flushOutbox();
    } else if (frame.type === "ack") {
      status.textContent = "online";
      answered(frame.client_message_id);
    } else if (frame.type === "typing") {
      typingStarted(frame);
    } else if (frame.type === "pending") {
      status.textContent = frame.message;
      inFlight = null;
      clearTimeout(resendTimer);
      resendTimer = setTimeout(flushOutbox, frame.retry_after_ms || 2000);
    } else if (frame.type === "reply") {
      if (frame.in_reply_to) typingEnded(frame.in_reply_to);
      if (frame.event_id && load(keys.transcript).some((entry) => entry.id === frame.event_id)) return;
      const person = frame.sender === "agent";
      const name = frame.sender_name || (person ? "Support" : "Assistant");
      const entry = {
        kind: person ? "agent" : "bot",
        text: frame.text,
        sender: person ? name + " · a person" : name,
        id: frame.event_id,
      };
      if (frame.in_reply_to) entry.in_reply_to = frame.in_reply_to;
      if (Array.isArray(frame.quick_replies) && frame.quick_replies.length) {
        entry.quick_replies = frame.quick_replies.map((reply) => ({ title: String(reply.title || "") }));
      }
      remember(entry);
    } else if (frame.type === "error") {
      show({ kind: "error", text: frame.message });
      // Refused for good (too long, say): let the messages after it go.
      if (inFlight !== null) answered(inFlight);
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const visitor = store.get(keys.visitor) || "";
    socket = new WebSocket(scheme + "//" + location.host + "/ws?visitor=" + encodeURIComponent(visitor));
    socket.addEventListener("open", () => { status.textContent = "online"; retryDelay = 500; });
    socket.addEventListener("close", () => {
      inFlight = null;
      status.textContent = "reconnecting…";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 5000);
    });
    socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
  }

  attach.addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => choose(picker.files[0] || null));

  // What the visitor sends, typed or a quick reply: queued in the outbox under a new
  // client_message_id, shown, and sent when its turn comes.
  async function send(text, file) {
    const frame = { type: "message", text: text, client_message_id: newId() };
    if (file) {
      form.inert = true;
      try {
        frame.attachments = [{ reference: await upload(file), file_name: file.name }];
      } catch (error) {
        show({ kind: "error", text: error.message });
        return false;
      } finally {
        form.inert = false;
      }
    }
    const outbox = load(keys.outbox);
    outbox.push(frame);
    save(keys.outbox, outbox);
    const entry = { kind: "customer", text: text };
    if (file) entry.image = file.name;
    remember(entry, file ? URL.createObjectURL(file) : null);
    flushOutbox();
    return true;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    const file = picker.files[0];
    if (!text && !file) return;
    if (!(await send(text, file))) return;
    input.value = "";
    choose(null);
  });

  // Embedded: Escape closes the chat. The host page (widget.js) writes first; its origin,
  // taken from that message, is the only one the request to close is sent to.
  if (window.parent !== window) {
    window.addEventListener("message", (event) => {
      if (event.source !== window.parent || !event.data) return;
      if (event.data.type === "rapport:host") hostOrigin = hostOrigin || event.origin;
      else if (event.data.type === "rapport:opened" && event.origin === hostOrigin) input.focus();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || event.isComposing || !hostOrigin) return;
      event.preventDefault();
      window.parent.postMessage({ type: "rapport:close" }, hostOrigin);
    });
  }

  // The restored transcript is not news: the live region announces only what comes next.
  conversation.setAttribute("aria-busy", "true");
  const transcript = load(keys.transcript);
  transcript.forEach((entry, index) => show(entry, null, index === transcript.length - 1));
  conversation.removeAttribute("aria-busy");
  connect();
})();
