// qa_bot embeddable chat widget loader. Plain ES2020, no dependencies, nothing global:
// it adds one <qa-bot-widget> element whose shadow root holds the launcher and the panel.
(() => {
  "use strict";

  const script = document.currentScript ||
    [...document.querySelectorAll('script[src$="/widget.js"]')].pop();
  if (!script) return;

  const BOT = new URL(script.src).origin;
  const TITLE = (script.dataset.title || "Ask about this article").trim();
  const SOURCE = script.dataset.source || "";
  const POSITION = ["bottom-left", "top-right", "top-left"].includes(script.dataset.position)
    ? script.dataset.position : "bottom-right";
  const HIGHLIGHT = script.dataset.highlight === "true";
  const HIGHLIGHT_NAME = "qa-bot-quote";
  const MAX_QUOTE = 5000;

  const STYLES = `
    :host { all: initial !important; }
    * { box-sizing: border-box; }
    .launcher {
      position: fixed; z-index: 2147483000; display: flex; align-items: center; gap: 8px;
      height: 52px; max-width: 280px; margin: 0; padding: 0 20px 0 16px;
      border: 0; border-radius: 26px; background: #1d4ed8; color: #fff; cursor: pointer;
      font: 600 15px/1.2 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
      box-shadow: 0 6px 20px rgba(15, 23, 42, .28), 0 1px 3px rgba(15, 23, 42, .2);
      transition: background-color .15s, transform .15s;
    }
    .launcher:hover { background: #1e40af; }
    .launcher:active { transform: scale(.97); }
    .launcher:focus-visible { outline: 3px solid #f59e0b; outline-offset: 3px; }
    .launcher svg { flex: none; width: 22px; height: 22px; }
    .label { overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
    .panel {
      position: fixed; z-index: 2147483001; display: none;
      width: 380px; height: 560px; max-height: calc(100vh - 112px);
      border-radius: 16px; overflow: hidden; background: #fff;
      box-shadow: 0 16px 48px rgba(15, 23, 42, .28), 0 2px 8px rgba(15, 23, 42, .14);
    }
    .panel.open { display: block; }
    iframe { display: block; width: 100%; height: 100%; border: 0; }
    .bottom-right .launcher, .bottom-right .panel { right: 20px; }
    .bottom-left .launcher, .bottom-left .panel { left: 20px; }
    .top-right .launcher, .top-right .panel { right: 20px; }
    .top-left .launcher, .top-left .panel { left: 20px; }
    .bottom-right .launcher, .bottom-left .launcher { bottom: 20px; }
    .bottom-right .panel, .bottom-left .panel { bottom: 88px; }
    .top-right .launcher, .top-left .launcher { top: 20px; }
    .top-right .panel, .top-left .panel { top: 88px; }
    @media (max-width: 480px) {
      .launcher { height: 52px; width: 52px; padding: 0; justify-content: center; }
      .label { display: none; }
      .panel, .bottom-right .panel, .bottom-left .panel, .top-right .panel, .top-left .panel {
        inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0;
      }
      .wrap.expanded .launcher { display: none; }
    }
    @media (prefers-reduced-motion: reduce) { .launcher { transition: none; } }
  `;

  const SVG = "http://www.w3.org/2000/svg";
  const ICONS = {
    chat: "M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6A.5.5 0 0 1 5 19.2V16A2.5 2.5 0 0 1 4 14Z",
    close: "M6 6l12 12M18 6 6 18",
  };

  function icon(name) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[name]);
    path.setAttribute("fill", name === "chat" ? "currentColor" : "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", name === "chat" ? "0" : "2.4");
    path.setAttribute("stroke-linecap", "round");
    svg.append(path);
    return svg;
  }

  function addStyles(root) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLES);
      root.adoptedStyleSheets = [sheet];
    } catch {
      const style = document.createElement("style");  // older browsers; stays in the shadow root
      style.textContent = STYLES;
      root.append(style);
    }
  }

  function frameUrl() {
    const url = new URL("/widget", BOT);
    if (SOURCE) url.searchParams.set("source", SOURCE);
    url.searchParams.set("title", TITLE);
    url.searchParams.set("origin", location.origin);
    if (HIGHLIGHT) url.searchParams.set("highlight", "1");
    return url.href;
  }

  // The widget --------------------------------------------------------------------------------

  const host = document.createElement("qa-bot-widget");
  const root = host.attachShadow({ mode: "open" });
  addStyles(root);

  const wrap = document.createElement("div");
  wrap.className = `wrap ${POSITION}`;

  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.setAttribute("aria-label", TITLE);  // the label is hidden on phones; kept equal to it
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "qa-bot-panel");
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = TITLE;
  launcher.append(icon("chat"), label);

  const panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "qa-bot-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", TITLE);

  wrap.append(panel, launcher);
  root.append(wrap);

  let frame = null;
  let frameReady = false;

  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.title = TITLE;
      frame.src = frameUrl();
      frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms");
      frame.setAttribute("referrerpolicy", "strict-origin");
      panel.append(frame);
    }
    setExpanded(true);
    if (frameReady) focusFrame();
  }

  function close() {
    setExpanded(false);
    launcher.focus();
  }

  function setExpanded(expanded) {
    panel.classList.toggle("open", expanded);
    wrap.classList.toggle("expanded", expanded);
    launcher.setAttribute("aria-expanded", String(expanded));
    launcher.replaceChildren(icon(expanded ? "close" : "chat"), label);
    label.textContent = expanded ? "Close" : TITLE;
    launcher.setAttribute("aria-label", label.textContent);
    tellModal();
  }

  const isOpen = () => panel.classList.contains("open");

  function focusFrame() {
    frame.focus();
    frame.contentWindow.postMessage({ type: "qa-bot:focus" }, BOT);
  }

  // On a phone the open panel covers the page: a modal dialog that keeps focus inside. The
  // frame cycles Tab among its own controls; focus that still lands in the page goes back.
  const PHONE = matchMedia("(max-width: 480px)");
  const isModal = () => isOpen() && PHONE.matches;

  function tellModal() {
    const modal = isModal();
    if (modal) panel.setAttribute("aria-modal", "true");
    else panel.removeAttribute("aria-modal");
    if (frame && frameReady) frame.contentWindow.postMessage({ type: "qa-bot:modal", modal }, BOT);
  }

  PHONE.addEventListener("change", tellModal);
  document.addEventListener("focusin", (event) => {
    if (isModal() && frameReady && event.target !== host) focusFrame();
  });

  launcher.addEventListener("click", () => (isOpen() ? close() : open()));
  root.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && isOpen()) {
      event.stopPropagation();
      close();
    }
  });

  // Messages from our own frame only: same origin as this script AND that very window.
  window.addEventListener("message", (event) => {
    if (!frame || event.origin !== BOT || event.source !== frame.contentWindow) return;
    const data = event.data;
    if (!data || typeof data.type !== "string") return;
    if (data.type === "qa-bot:ready") {
      frameReady = true;
      tellModal();
      if (isOpen()) focusFrame();
    } else if (data.type === "qa-bot:close") {
      close();
    } else if (data.type === "qa-bot:highlight" && HIGHLIGHT && typeof data.quote === "string") {
      highlightQuote(data.quote.slice(0, MAX_QUOTE));
    }
  });

  if (document.body) document.body.append(host);
  else document.addEventListener("DOMContentLoaded", () => document.body.append(host));

  // Highlight a quote in the host page, without adding any element to it ----------------------

  const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEXTAREA", "TEMPLATE", "QA-BOT-WIDGET"]);
  const IGNORED = /[\s\u00ad\u200b-\u200d\ufeff]/;  // whitespace, soft hyphens, zero widths

  // The page's visible characters without whitespace, and where each one lives.
  function pageCharacters() {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
      acceptNode: (node) => {
        for (let el = node.parentElement; el; el = el.parentElement) {
          if (SKIP.has(el.tagName)) return NodeFilter.FILTER_REJECT;
        }
        return NodeFilter.FILTER_ACCEPT;
      },
    });
    let text = "";
    const places = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const value = node.nodeValue;
      for (let i = 0; i < value.length; i++) {
        if (IGNORED.test(value[i])) continue;
        text += value[i];
        places.push([node, i]);
      }
    }
    return { text, places };
  }

  function findRanges(quote) {
    const { text, places } = pageCharacters();
    const ranges = [];
    for (const piece of quote.split(" … ")) {
      const needle = [...piece].filter((c) => !IGNORED.test(c)).join("");
      const at = needle ? text.indexOf(needle) : -1;
      if (at < 0) continue;
      const [startNode, startOffset] = places[at];
      const [endNode, endOffset] = places[at + needle.length - 1];
      const range = document.createRange();
      range.setStart(startNode, startOffset);
      range.setEnd(endNode, endOffset + 1);
      ranges.push(range);
    }
    return ranges;
  }

  let highlightSheet = null;

  function highlightQuote(quote) {
    const ranges = findRanges(quote);
    if (!ranges.length) return;
    if (window.CSS && CSS.highlights && window.Highlight) {
      if (!highlightSheet) {
        highlightSheet = new CSSStyleSheet();
        highlightSheet.replaceSync(`::highlight(${HIGHLIGHT_NAME}) ` +
          "{ background-color: #fde68a; color: #111827; }");
        document.adoptedStyleSheets = [...document.adoptedStyleSheets, highlightSheet];
      }
      CSS.highlights.set(HIGHLIGHT_NAME, new Highlight(...ranges));
    } else {
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(ranges[0]);
    }
    // A full-screen panel (phones) would hide the quote: get out of the way.
    if (PHONE.matches) close();
    const target = ranges[0].startContainer.parentElement;
    const smooth = !matchMedia("(prefers-reduced-motion: reduce)").matches;
    target.scrollIntoView({ block: "center", behavior: smooth ? "smooth" : "auto" });
  }
})();
