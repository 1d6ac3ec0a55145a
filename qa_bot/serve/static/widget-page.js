// The /widget chat page. Article text, questions and answers are untrusted: the DOM is built
// with createElement and text nodes only, never innerHTML.
(() => {
  "use strict";

  const params = new URLSearchParams(location.search);
  const SOURCE = params.get("source") || null;
  const TITLE = (params.get("title") || "").trim() || "Ask about this article";
  const HOST_ORIGIN = hostOrigin(params.get("origin"));
  const HIGHLIGHT = params.get("highlight") === "1" && HOST_ORIGIN !== null;
  const MAX_HISTORY = 100;
  const CONTEXT_CHARS = 150;  // passage text kept on each side of the quote in a folded card

  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const form = $("ask");
  const input = $("question");
  const send = $("send");
  const history = [];
  let turns = 0;
  let busy = false;

  // The page that embeds us, if it is really our parent: postMessage needs an exact origin.
  function hostOrigin(value) {
    if (!value || window.parent === window) return null;
    try {
      const url = new URL(value);
      return /^https?:$/.test(url.protocol) ? url.origin : null;
    } catch {
      return null;
    }
  }

  function toHost(message) {
    if (HOST_ORIGIN) window.parent.postMessage(message, HOST_ORIGIN);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Not scrollIntoView: from inside a frame it would scroll the host page as well.
  function scrollLogTo(node) {
    log.scrollTop = Math.max(0, node.offsetTop - 12);
  }

  // A new answer: its question stays in view above it when that leaves room for the answer's
  // first lines, else the answer's top is at the top of the log.
  function revealAnswer(question, answer) {
    scrollLogTo(answer.offsetTop - question.offsetTop < log.clientHeight / 2 ? question : answer);
  }

  function revealInLog(node) {
    const bottom = node.offsetTop + node.offsetHeight + 12;
    if (node.offsetTop - 12 < log.scrollTop) scrollLogTo(node);
    else if (bottom > log.scrollTop + log.clientHeight) log.scrollTop = bottom - log.clientHeight;
  }

  // Messages ---------------------------------------------------------------------------------

  function addMessage(node) {
    $("intro")?.remove();
    log.append(node);
    return node;
  }

  function userMessage(text) {
    return addMessage(el("div", "msg user", text));
  }

  // Announced by screen readers (a status), shown as three dots.
  function pendingMessage() {
    const node = el("div", "msg bot pending");
    node.setAttribute("role", "status");
    node.append(el("span", "visually-hidden", "Finding the answer…"));
    for (let i = 0; i < 3; i++) node.append(el("span", "dot"));
    return addMessage(node);
  }

  function errorMessage(text) {
    const node = el("div", "msg error", text);
    node.setAttribute("role", "alert");
    return addMessage(node);
  }

  function answerMessage(result) {
    turns += 1;
    if (!result.answered || !result.citations.length) {
      const node = el("div", "msg bot declined");
      node.append(el("p", "answer", result.answer));
      if (result.related && result.related.length) {
        const list = el("ol", "sources related");
        list.setAttribute("aria-label", "Related in the article, not an answer");
        list.append(...result.related.map((c) => citationCard(c, turns, false)));
        node.append(el("p", "related-label", "Related in the article (not an answer)"), list);
      }
      if (result.id) node.append(ratingBar(result.id));
      return addMessage(node);
    }
    const cards = new Map(result.citations.map((c) => [c.n, citationCard(c, turns, true)]));
    const node = el("div", "msg bot");
    const text = el("p", "answer");
    result.citations.forEach((citation, i) => {
      if (i) text.append(" ");
      // One marker per source, kept on the line of the quote's last word.
      text.append(...quoteNodes(citation, result.short_answer), "\u00a0",
                  marker(citation, cards.get(citation.n)));
    });
    const list = el("ol", "sources");
    list.setAttribute("aria-label", "Sources");
    list.append(...cards.values());
    node.append(text, list);
    if (result.id) node.append(ratingBar(result.id));
    return addMessage(node);
  }

  // Slices a citation's text by offsets in its source. The API's offsets count Unicode code
  // points, as Python does; a JavaScript string counts UTF-16 units, two for each character
  // beyond U+FFFF (most emoji), so the text is sliced as an array of code points.
  function sourceSlicer(citation) {
    const characters = Array.from(citation.text);
    return (start, end = citation.end) =>
      characters.slice(start - citation.start, end - citation.start).join("");
  }

  // The quoted sentences, from their offsets; the short answer, when inside, in bold.
  function quoteNodes(citation, short) {
    const nodes = [];
    const slice = sourceSlicer(citation);
    let previousEnd = null;
    for (const [start, end] of citation.quote_spans) {
      if (previousEnd !== null) {
        const gap = slice(previousEnd, start);
        nodes.push(gap.trim() ? " … " : gap);
      }
      if (short && short.source === citation.source && start <= short.start && short.end <= end) {
        nodes.push(slice(start, short.start), el("strong", "short", short.text),
                   slice(short.end, end));
      } else {
        nodes.push(slice(start, end));
      }
      previousEnd = end;
    }
    return nodes.filter((n) => n !== "");
  }

  // Feedback ---------------------------------------------------------------------------------

  const SVG = "http://www.w3.org/2000/svg";
  const THUMB = "M7 10v10H4V10h3zm2 10h7.6a2 2 0 0 0 1.9-1.4l1.8-6A2 2 0 0 0 16.4 10H14" +
    "l.7-3.6a1.8 1.8 0 0 0-3.2-1.4L9 9.4V20z";

  function thumb() {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", THUMB);
    path.setAttribute("fill", "currentColor");
    svg.append(path);
    return svg;
  }

  // Thumbs up and down under an answer; the last choice counts.
  function ratingBar(id) {
    const bar = el("div", "rate");
    const status = el("span", "rate-status", "Was this helpful?");
    status.setAttribute("role", "status");
    const buttons = [[true, "up", "Helpful"], [false, "down", "Not helpful"]].map(
      ([helpful, kind, label]) => {
        const button = el("button", `thumb ${kind}`);
        button.type = "button";
        button.setAttribute("aria-label", label);
        button.setAttribute("aria-pressed", "false");
        button.append(thumb());
        button.addEventListener("click", () => rate(id, helpful, button, buttons, status));
        return button;
      });
    bar.append(status, ...buttons);
    return bar;
  }

  async function rate(id, helpful, chosen, buttons, status) {
    for (const button of buttons) button.setAttribute("aria-pressed", String(button === chosen));
    try {
      const response = await fetch("/api/feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ id, helpful }),
      });
      const data = await response.json().catch(() => null);
      if (!response.ok) {
        throw new Error((data && typeof data.error === "string" && data.error) ||
          `Your rating could not be sent (HTTP ${response.status}).`);
      }
      status.textContent = "Thanks for your feedback.";
    } catch (error) {
      chosen.setAttribute("aria-pressed", "false");
      status.textContent = error instanceof TypeError
        ? "Your rating could not be sent; check your connection." : error.message;
    }
  }

  function marker(citation, card) {
    const button = el("button", "cite", String(citation.n));
    button.type = "button";
    button.setAttribute("aria-label", `Source ${citation.n}`);
    button.addEventListener("click", () => {
      revealInLog(card);
      card.classList.remove("flash");
      void card.offsetWidth;  // restart the flash animation
      card.classList.add("flash");
      card.focus({ preventScroll: true });
      if (HIGHLIGHT) highlightInPage(citation);
    });
    return button;
  }

  // Citation cards ---------------------------------------------------------------------------

  // The passage as [text, isQuote] pieces, each quoted sentence marked by its offsets.
  function passagePieces(citation) {
    const pieces = [];
    const slice = sourceSlicer(citation);
    let position = citation.start;
    for (const [start, end] of citation.quote_spans) {
      pieces.push([slice(position, start), false], [slice(start, end), true]);
      position = end;
    }
    pieces.push([slice(position), false]);
    return pieces.filter(([text]) => text);
  }

  function fold(pieces) {
    const folded = pieces.map(([text, quote]) => [text, quote]);
    const first = folded[0];
    const last = folded[folded.length - 1];
    let trimmed = false;
    if (folded.length > 1 && !first[1] && first[0].length > CONTEXT_CHARS) {
      first[0] = "…" + first[0].slice(-CONTEXT_CHARS).replace(/^\S*\s/, "");
      trimmed = true;
    }
    if (folded.length > 1 && !last[1] && last[0].length > CONTEXT_CHARS) {
      last[0] = last[0].slice(0, CONTEXT_CHARS).replace(/\s\S*$/, "") + "…";
      trimmed = true;
    }
    return trimmed ? folded : null;
  }

  function renderPassage(block, pieces) {
    block.replaceChildren(...pieces.map(([text, quote]) => (quote ? el("mark", "", text) : text)));
  }

  function citationCard(citation, turn, quoted) {
    const card = el("li", quoted ? "card" : "card related");
    card.id = `${quoted ? "source" : "related"}-${turn}-${citation.n}`;
    card.tabIndex = -1;

    const head = el("div", "card-head");
    head.append(el("span", "num", String(citation.n)),
                el("span", "src", citation.title || citation.source));
    const passage = el("blockquote", "passage");
    const pieces = passagePieces(citation);
    const folded = fold(pieces);
    renderPassage(passage, folded || pieces);

    const actions = el("div", "card-actions");
    if (folded) actions.append(foldToggle(passage, pieces, folded));
    if (HIGHLIGHT && quoted) {
      const show = el("button", "link", "Show in article");
      show.type = "button";
      show.addEventListener("click", () => highlightInPage(citation));
      actions.append(show);
    }
    card.append(head, passage);
    if (actions.childElementCount) card.append(actions);
    return card;
  }

  function foldToggle(passage, pieces, folded) {
    const toggle = el("button", "link", "Show whole passage");
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", "false");
    toggle.addEventListener("click", () => {
      const expand = toggle.getAttribute("aria-expanded") === "false";
      renderPassage(passage, expand ? pieces : folded);
      toggle.setAttribute("aria-expanded", String(expand));
      toggle.textContent = expand ? "Show less" : "Show whole passage";
    });
    return toggle;
  }

  function highlightInPage(citation) {
    toHost({ type: "qa-bot:highlight", quote: citation.quote, source: citation.source });
  }

  // Asking -----------------------------------------------------------------------------------

  async function ask(question) {
    const response = await fetch("/api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        question, history: history.slice(-MAX_HISTORY), source: SOURCE, channel: "widget",
      }),
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      // not JSON: a proxy error page, say
    }
    if (!response.ok || !data || typeof data.answer !== "string") {
      throw new Error((data && typeof data.error === "string" && data.error) ||
        `The answer service had a problem (HTTP ${response.status}); please try again.`);
    }
    return data;
  }

  function submit(event) {
    event.preventDefault();
    askQuestion(input.value.trim());
  }

  async function askQuestion(question) {
    if (!question || busy) {
      input.focus();
      return;
    }
    busy = true;
    send.disabled = true;
    form.setAttribute("aria-busy", "true");
    input.value = "";
    const asked = userMessage(question);
    scrollLogTo(asked);
    const pending = pendingMessage();
    try {
      const result = await ask(question);
      pending.remove();
      revealAnswer(asked, answerMessage(result));
      history.push({ role: "user", content: question },
        { role: "assistant", content: result.answer });
    } catch (error) {
      pending.remove();
      revealAnswer(asked, errorMessage(error instanceof TypeError
        ? "Could not reach the answer service. Check your connection and try again."
        : error.message));
    } finally {
      busy = false;
      send.disabled = false;
      form.removeAttribute("aria-busy");
      input.focus({ preventScroll: true });
    }
  }

  // Example questions in the intro: tapping one asks it. Without them the intro still invites.
  async function showExamples() {
    const url = "/api/examples" + (SOURCE ? `?source=${encodeURIComponent(SOURCE)}` : "");
    let examples = [];
    try {
      const response = await fetch(url);
      if (response.ok) examples = (await response.json()).examples;
    } catch {
      return;  // offline: asking will say so
    }
    const intro = $("intro");
    if (!intro || !Array.isArray(examples) || !examples.length) return;
    const list = el("ul", "examples");
    list.setAttribute("aria-labelledby", "examples-label");
    for (const example of examples.filter((e) => typeof e === "string")) {
      const button = el("button", "example", example);
      button.type = "button";
      button.addEventListener("click", () => askQuestion(example));
      const item = el("li");
      item.append(button);
      list.append(item);
    }
    const label = el("p", "examples-label", "Try asking");
    label.id = "examples-label";
    intro.append(label, list);
  }

  // On a phone the chat covers the page (the loader says so): Tab cycles inside it.
  let modal = false;

  function keepFocusInside(event) {
    if (!modal || event.key !== "Tab") return;
    const focusable = [...document.querySelectorAll("button, input")]
      .filter((node) => !node.disabled && node.getClientRects().length);
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  // Start ------------------------------------------------------------------------------------

  document.title = TITLE;
  $("title").textContent = TITLE;
  form.addEventListener("submit", submit);
  showExamples();

  if (HOST_ORIGIN) {
    const close = $("close");
    close.hidden = false;
    close.addEventListener("click", () => toHost({ type: "qa-bot:close" }));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") toHost({ type: "qa-bot:close" });
      keepFocusInside(event);
    });
    window.addEventListener("message", (event) => {
      if (event.origin !== HOST_ORIGIN || event.source !== window.parent || !event.data) return;
      if (event.data.type === "qa-bot:focus") input.focus({ preventScroll: true });
      if (event.data.type === "qa-bot:modal") modal = event.data.modal === true;
    });
    toHost({ type: "qa-bot:ready" });
  }
})();
