// Rapport chat widget loader: <script src="https://chat.example.com/widget.js" async></script>
// adds a chat button to the page; the chat itself runs in an iframe served by Rapport, so
// the host page's styles and scripts cannot reach into it (nor it into them). The launcher
// says whether the chat is open (aria-expanded); Escape closes it and gives the keyboard
// back to the launcher.
(() => {
  "use strict";
  const script = document.currentScript;
  const origin = new URL(script.src).origin;
  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.id = "rapport-launcher";
  launcher.textContent = script.dataset.label || "Chat with us";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "rapport-frame");
  launcher.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:2147483647;" +
    "padding:12px 18px;border:0;border-radius:24px;background:#2563eb;color:#fff;" +
    "font:600 15px system-ui,sans-serif;cursor:pointer;box-shadow:0 2px 8px rgba(0,0,0,.25)";
  const frame = document.createElement("iframe");
  frame.id = "rapport-frame";
  frame.title = "Chat with us";
  frame.src = origin + "/?embedded=1";
  frame.hidden = true;
  frame.style.cssText = "position:fixed;right:16px;bottom:72px;z-index:2147483647;" +
    "width:min(380px,calc(100vw - 32px));height:min(560px,calc(100vh - 96px));" +
    "border:1px solid #ccc;border-radius:12px;background:#fff;box-shadow:0 4px 16px rgba(0,0,0,.2)";
  // The chat and this page talk with postMessage, each naming the other's origin: this
  // page hears only Rapport's frame; the frame learns this page's origin from its hello.
  const tell = (type) => frame.contentWindow && frame.contentWindow.postMessage({ type: type }, origin);
  frame.addEventListener("load", () => tell("rapport:host"));
  const open = () => {
    frame.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    frame.focus();
    tell("rapport:opened"); // the chat puts the keyboard in its composer
  };
  const close = () => {
    if (frame.hidden) return;
    frame.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  };
  launcher.addEventListener("click", () => (frame.hidden ? open() : close()));
  // Escape closes the chat: pressed inside it (the frame asks), or on this page while open.
  window.addEventListener("message", (event) => {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    if (event.data && event.data.type === "rapport:close") close();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.defaultPrevented && !frame.hidden) close();
  });
  document.body.appendChild(frame);
  document.body.appendChild(launcher);
})();
