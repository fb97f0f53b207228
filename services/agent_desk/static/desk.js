// The agent desk's only script (the Content-Security-Policy allows no inline code).
// The queue refreshes itself when the server's event stream says a ticket changed;
// keyboard shortcuts: Ctrl+Enter sends a reply, C claims the open conversation.
(function () {
  "use strict";

  function liveQueue(container) {
    let pending = false;
    async function refresh() {
      if (pending) return;
      pending = true;
      try {
        const response = await fetch(container.dataset.refresh, { credentials: "same-origin" });
        if (response.ok) container.innerHTML = await response.text(); // server-rendered, escaped
      } finally {
        pending = false;
      }
    }
    const events = new EventSource(container.dataset.live);
    events.addEventListener("ticket", refresh);
    events.addEventListener("open", refresh); // catch up after a reconnect
  }

  function typing(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  document.addEventListener("DOMContentLoaded", function () {
    const queue = document.getElementById("queue");
    if (queue) liveQueue(queue);

    const reply = document.getElementById("reply-form");
    const text = document.getElementById("reply-text");
    if (reply && text) {
      text.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          if (text.value.trim()) reply.requestSubmit();
        }
      });
    }

    const claim = document.getElementById("claim-form");
    document.addEventListener("keydown", function (event) {
      if (claim && !typing(event.target) && !event.ctrlKey && !event.metaKey && !event.altKey &&
          event.key.toLowerCase() === "c") {
        event.preventDefault();
        claim.requestSubmit();
      }
    });
  });
})();
