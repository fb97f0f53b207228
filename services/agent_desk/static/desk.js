// The agent desk's only script (the Content-Security-Policy allows no inline code).
// The queue and the open conversation refresh themselves when the server's event stream
// says something changed (and the queue once a minute, for its waiting times), the
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

  function liveQueue(container) {
    let pending = false;
    async function refresh() {
      if (pending) return;
      pending = true;
      try {
        const html = await fetchText(container.dataset.refresh);
        if (html !== null) container.innerHTML = html; // server-rendered, escaped
      } finally {
        pending = false;
      }
    }
    const events = new EventSource(container.dataset.live);
    events.addEventListener("ticket", refresh);
    events.addEventListener("open", refresh); // catch up after a reconnect
    // Nothing announces that a minute went by: refetch so "waiting 4 min" stays true.
    window.setInterval(refresh, 60000);
  }

  // The open conversation: a customer's new message is appended as it arrives; a change
  // of the ticket refetches the page and swaps its parts, keeping a reply being written.
  function liveConversation(container) {
    const ticket = container.dataset.ticket;
    let pending = false;
    let again = false; // a change arrived while refreshing: refresh once more after

    function scrollDown() {
      const timeline = document.getElementById("timeline"); // replaced by each refresh
      timeline.scrollTop = timeline.scrollHeight;
    }

    async function refresh() {
      if (pending) {
        again = true;
        return;
      }
      pending = true;
      try {
        const html = await fetchText(window.location.pathname);
        if (html === null) return;
        const fresh = new DOMParser().parseFromString(html, "text/html");
        for (const id of ["conversation-head", "timeline", "conversation-side"]) {
          const now = document.getElementById(id);
          const next = fresh.getElementById(id);
          if (now && next) now.replaceWith(document.adoptNode(next));
        }
        const area = document.getElementById("reply-area");
        const nextArea = fresh.getElementById("reply-area");
        const hadForm = Boolean(document.getElementById("reply-form"));
        const hasForm = Boolean(nextArea && nextArea.querySelector("#reply-form"));
        if (area && nextArea && hadForm !== hasForm) area.replaceWith(document.adoptNode(nextArea));
        bindReply();
        scrollDown();
      } finally {
        pending = false;
        if (again) {
          again = false;
          refresh();
        }
      }
    }

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
    // Where a file may go with the text, the text is optional; checked before each send.
    function check() {
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
