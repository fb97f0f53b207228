// The agent desk's only script (the Content-Security-Policy allows no inline code).
// The queue and the open conversation refresh themselves when the server's event stream
// says something changed (the queue also when an agent of the team changed their
// availability, and once a minute, for its waiting times), the
// conversation also when one of the messages sent in it got further or did not get
// through; everything inserted is HTML the server rendered and escaped. Suggested
// replies fill the reply box for editing. A reply needs text or an attached file (its
// size and the caption's length are checked before it goes).
// Keyboard shortcuts: Ctrl+Enter sends a reply, C claims the open conversation.
(function () {
  "use strict";

  async function fetchText(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    return response.ok ? response.text() : null;
  }

  // ``work`` as a refresh that never overlaps itself and never misses a change: called
  // while one runs, it runs once more after (a ticket queued, then given to an agent a
  // moment later, ends up shown as given).
  function coalesced(work) {
    let pending = false;
    let again = false;
    return async function run() {
      if (pending) {
        again = true;
        return;
      }
      pending = true;
      try {
        await work();
      } finally {
        pending = false;
        if (again) {
          again = false;
          run();
        }
      }
    };
  }

  // The correction forms open in the timeline, with what was picked in them: put back
  // once a refresh has swapped the timeline, so a refresh does not close one in use.
  function openCorrections() {
    const open = Array.from(document.querySelectorAll("#timeline details.correction[open]"));
    const kept = open.map(function (details) {
      return [details.id, Array.from(details.querySelectorAll("select"), (s) => s.value)];
    });
    return function restore() {
      for (const [id, values] of kept) {
        const details = document.getElementById(id);
        if (!details) continue;
        details.open = true;
        details.querySelectorAll("select").forEach(function (select, i) {
          if (i < values.length) select.value = values[i];
        });
      }
    };
  }

  function liveQueue(container) {
    const refresh = coalesced(async function () {
      const html = await fetchText(container.dataset.refresh);
      if (html !== null) container.innerHTML = html; // server-rendered, escaped
    });
    const events = new EventSource(container.dataset.live);
    events.addEventListener("ticket", refresh);
    events.addEventListener("team", refresh); // someone came online, went away...
    events.addEventListener("open", refresh); // catch up after a reconnect
    // Nothing announces that a minute went by: refetch so "waiting 4 min" stays true.
    window.setInterval(refresh, 60000);
  }

  // The open conversation: a customer's new message is appended as it arrives; a change
  // of the ticket refetches the page and swaps its parts, keeping a reply being written.
  function liveConversation(container) {
    const ticket = container.dataset.ticket;

    function scrollDown() {
      const timeline = document.getElementById("timeline"); // replaced by each refresh
      timeline.scrollTop = timeline.scrollHeight;
    }

    const refresh = coalesced(async function () {
      const html = await fetchText(window.location.pathname);
      if (html === null) return;
      const fresh = new DOMParser().parseFromString(html, "text/html");
      const restoreCorrections = openCorrections();
      for (const id of ["conversation-head", "timeline", "conversation-side"]) {
        const now = document.getElementById(id);
        const next = fresh.getElementById(id);
        if (now && next) now.replaceWith(document.adoptNode(next));
      }
      restoreCorrections();
      const area = document.getElementById("reply-area");
      const nextArea = fresh.getElementById("reply-area");
      const hadForm = Boolean(document.getElementById("reply-form"));
      const hasForm = Boolean(nextArea && nextArea.querySelector("#reply-form"));
      if (area && nextArea && hadForm !== hasForm) area.replaceWith(document.adoptNode(nextArea));
      bindReply();
      scrollDown();
    });

    const events = new EventSource(container.dataset.live);
    function ours(event) {
      if (event.data === ticket) refresh();
    }
    events.addEventListener("ticket", ours);
    events.addEventListener("delivery", ours); // a message of ours got further, or failed
    // Catch up on what changed between rendering the page and hearing the stream (a
    // report on the reply just sent, say), and after a reconnect.
    events.addEventListener("open", refresh);
    events.addEventListener("message", function (event) {
      const holder = document.createElement("template");
      holder.innerHTML = event.data; // server-rendered, escaped
      const turn = holder.content.firstElementChild;
      if (!turn || turn.dataset.ticket !== ticket) return;
      const current = document.getElementById("timeline");
      const empty = current.querySelector("li.muted:only-child");
      if (empty) empty.remove();
      current.appendChild(turn);
      current.scrollTop = current.scrollHeight;
    });
    scrollDown();
  }

  function bindReply() {
    const reply = document.getElementById("reply-form");
    const text = document.getElementById("reply-text");
    if (!reply || !text || text.dataset.bound) return;
    text.dataset.bound = "yes";
    const attachment = document.getElementById("reply-attachment");
    function chosen() {
      return attachment && attachment.files.length ? attachment.files[0] : null;
    }
    // A placeholder of a canned response left unfilled must not reach the customer.
    const placeholders = (reply.dataset.placeholders || "").split(" ").filter(Boolean);
    function unfilled() {
      return placeholders.map((name) => "{" + name + "}").filter((p) => text.value.includes(p));
    }
    // Where a file may go with the text, the text is optional; checked before each send.
    function check() {
      const missing = unfilled();
      if (missing.length) {
        text.setCustomValidity("Fill in " + missing.join(", ") + " before sending: the customer would see it.");
        return;
      }
      text.setCustomValidity("");
      if (!attachment) return;
      const file = chosen();
      const caption = Number(attachment.dataset.maxCaption);
      attachment.setCustomValidity(
        file && file.size > Number(attachment.dataset.maxBytes) ? "This file is too large." : "");
      if (!file && !text.value.trim()) {
        text.setCustomValidity("Write a reply, or attach an image or PDF.");
      } else if (file && text.value.trim().length > caption) {
        text.setCustomValidity("With a file, the text is its caption: " + caption + " characters at most.");
      } else {
        text.setCustomValidity("");
      }
    }
    if (attachment) attachment.addEventListener("change", check);
    text.addEventListener("input", check);
    bindResponses(text, check);
    const send = document.getElementById("send");
    if (send) send.addEventListener("click", check);
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        check();
        if (text.value.trim() || chosen()) reply.requestSubmit();
      }
    });
  }

  // Canned responses: "/" at the start of the reply box, then a shortcut or words, lists
  // the matching ones (filled in by the server for this conversation); arrows move,
  // Enter or a click inserts one, Escape closes the list. The chosen response's id goes
  // with the reply, so the desk runs its macro once the reply is sent.
  function bindResponses(text, check) {
    const list = document.getElementById("responses-picker");
    const chosenId = document.getElementById("response-id");
    if (!list || !chosenId) return;
    let found = [];
    let active = -1;
    let asked = 0;

    function close() {
      list.hidden = true;
      list.replaceChildren();
      found = [];
      active = -1;
    }
    function mark(index) {
      active = index;
      list.querySelectorAll("li").forEach(function (item, i) {
        item.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      const status = document.getElementById("response-status");
      if (status && index >= 0) {
        status.textContent = (index + 1) + " of " + found.length + ": " + found[index].title +
          ". Arrows choose, Enter inserts, Escape closes.";
      }
    }
    function insert(index) {
      const response = found[index];
      if (!response) return;
      text.value = response.text;
      chosenId.value = response.id;
      const note = document.getElementById("response-note");
      if (note) {
        note.textContent = response.actions.length
          ? "After sending: " + response.actions.join(", ") + "."
          : "";
      }
      close();
      check();
      text.focus();
    }
    async function search() {
      const query = text.value.slice(1);
      const mine = ++asked;
      const response = await fetch(list.dataset.search + "?q=" + encodeURIComponent(query),
        { credentials: "same-origin" });
      if (mine !== asked || !response.ok || !text.value.startsWith("/")) return;
      found = (await response.json()).responses;
      list.replaceChildren();
      found.forEach(function (entry, index) {
        const item = document.createElement("li");
        item.id = "response-option-" + index;
        item.setAttribute("role", "option");
        item.textContent = "/" + entry.shortcut + " " + entry.title; // text, never markup
        const hint = document.createElement("span");
        hint.className = "muted";
        hint.textContent = entry.personal ? "mine" : "team";
        item.appendChild(hint);
        item.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the reply box
          insert(index);
        });
        list.appendChild(item);
      });
      list.hidden = found.length === 0;
      mark(found.length ? 0 : -1);
    }
    text.addEventListener("input", function () {
      if (!text.value.trim()) chosenId.value = "";
      if (text.value.startsWith("/") && !text.value.includes("\n")) search();
      else close();
    });
    text.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : found.length - 1;
        mark((active + step) % found.length);
      } else if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        insert(active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    text.addEventListener("blur", function () {
      window.setTimeout(close, 150);
    });
  }

  function typing(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  document.addEventListener("DOMContentLoaded", function () {
    const queue = document.getElementById("queue");
    if (queue) liveQueue(queue);
    const conversation = document.getElementById("conversation");
    if (conversation) liveConversation(conversation);
    bindReply();

    document.addEventListener("click", function (event) {
      const draft = event.target instanceof Element && event.target.closest("[data-draft]");
      const text = document.getElementById("reply-text");
      if (!draft || !text) return;
      text.value = draft.textContent.trim();
      text.focus();
      text.setSelectionRange(text.value.length, text.value.length);
    });

    document.addEventListener("keydown", function (event) {
      const claim = document.getElementById("claim-form");
      if (claim && !typing(event.target) && !event.ctrlKey && !event.metaKey && !event.altKey &&
          event.key.toLowerCase() === "c") {
        event.preventDefault();
        claim.requestSubmit();
      }
    });
  });
})();
