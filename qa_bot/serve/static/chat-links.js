// The chat's [n] markers (links to #qa-source-<answer>-<n>, qa_bot/serve/ui.py) bring the reader to
// the source they name: it is scrolled into view and focused, and its Sources block, if the
// reader folded it, is opened first (Gradio keeps a folded block's content out of the page).
// A click and Enter on a focused marker both arrive here as a click. Nothing global is added.
(() => {
  document.addEventListener("click", (event) => {
    const marker = event.target instanceof Element && event.target.closest("a.qa-marker");
    if (!marker) return;
    event.preventDefault();  // no history entry per marker; the script does what the link says
    const id = decodeURIComponent(marker.hash.slice(1));
    if (!document.getElementById(id)) openSources(marker);
    whenPresent(id, (source) => {
      source.scrollIntoView({ block: "start" });
      source.focus({ preventScroll: true });
    });
  });

  // Unfolds the Sources block of the marker's answer: the bot message that follows it.
  function openSources(marker) {
    const messages = [...document.querySelectorAll("[data-testid=bot]")];
    const next = messages[messages.indexOf(marker.closest("[data-testid=bot]")) + 1];
    const toggle = next && next.querySelector(".thought-group > [role=button]:not(.expanded)");
    if (toggle) toggle.click();
  }

  // Calls back with the element once it is in the page (Gradio renders an opened block on a
  // later frame); gives up after about half a second.
  function whenPresent(id, callback, frames = 30) {
    const found = document.getElementById(id);
    if (found) callback(found);
    else if (frames > 0) requestAnimationFrame(() => whenPresent(id, callback, frames - 1));
  }
})();
