// The search page: search as you type (debounced), on Enter, and from the example questions.
// Only the newest request may render: a new search aborts the previous fetch (AbortController), and
// a response that arrives for an older request is dropped anyway.

import { MAX_GET_URL, search } from "./api.js";
import { loadExamples } from "./examples.js";
import { el, noticeFor, resultItem } from "./render.js";

const PAGE_SIZE = 5;
const MAX_K = 50; // the API's largest k: restoring more results than that takes several pages
const DEBOUNCE_MS = 250;
const ECHO_CHARS = 80; // the status line quotes at most this many characters of the question (graphemes)

const $ = (id) => document.getElementById(id);
const form = $("search-form");
const input = $("q");
const examples = $("examples");
const status = $("status");
const errorBox = $("error");
const errorMessage = $("error-message");
const retryButton = $("retry");
const notice = $("notice");
const results = $("results");
const moreButton = $("more");

// The page's own ?mode=dense|bm25 (default hybrid) is passed on to the API.
const mode = new URLSearchParams(location.search).get("mode") || undefined;

let controller = null;
let debounceTimer = null;
let question = "";
let retry = null;
let hasExamples = false; // set once GET /examples answered with questions

function setState(state) {
  document.body.dataset.state = state;
  results.setAttribute("aria-busy", state === "loading" ? "true" : "false");
}

// The question goes into the page's URL (reload and share keep it), unless that URL would be too long to
// load again: the server would refuse the reload with a bare 400 instead of showing the page.
function showUrl(text) {
  const params = new URLSearchParams(location.search);
  if (text) params.set("q", text);
  else params.delete("q");
  if (`/?${params}`.length > MAX_GET_URL) params.delete("q");
  const query = params.toString();
  history.replaceState(null, "", query ? `/?${query}` : "/");
}

function resultItems() {
  return [...results.querySelectorAll("article.result")];
}

function cancel() {
  clearTimeout(debounceTimer);
  if (controller) controller.abort();
  controller = null;
}

function clearAll() {
  cancel();
  question = "";
  input.value = "";
  results.replaceChildren();
  notice.replaceChildren();
  notice.hidden = true;
  errorBox.hidden = true;
  moreButton.hidden = true;
  examples.hidden = !hasExamples;
  status.textContent = "";
  showUrl("");
  setState("empty");
}

function showError(message, again) {
  errorMessage.textContent = message;
  errorBox.hidden = false;
  retry = again;
  status.textContent = "";
  setState("error");
}

// The question as the status line quotes it: a long one (a pasted message) is cut, so that the line (read
// aloud by screen readers, as it is aria-live) does not repeat thousands of characters above the results.
// It is isolated (<bdi>), so that a Hebrew or Arabic question reads as typed inside the English sentence.
function quoted(text) {
  const chars = graphemes(text);
  const shown = chars.length > ECHO_CHARS ? `${chars.slice(0, ECHO_CHARS).join("").trimEnd()}…` : text;
  return el("bdi", {}, shown);
}

// The characters a reader sees (grapheme clusters: a family emoji, a flag, a letter with its combining
// marks are one each), so that a cut never splits one; code points where Intl.Segmenter is missing.
function graphemes(text) {
  if (typeof Intl !== "undefined" && Intl.Segmenter) {
    return Array.from(new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text), (s) => s.segment);
  }
  return Array.from(text);
}

function describe(count, text, hasMore) {
  const passages = count === 1 ? "1 passage" : `${count} passages`;
  return [`${hasMore ? "Top " : ""}${passages} for “`, quoted(text), "”"];
}

async function run(text, append = false, k = PAGE_SIZE) {
  cancel();
  const mine = new AbortController();
  controller = mine;
  question = text;
  const offset = append ? resultItems().length : 0;
  errorBox.hidden = true;
  examples.hidden = true;
  if (!append) showUrl(text);
  status.textContent = append ? "Loading more results…" : "Searching…";
  setState("loading");
  let body;
  try {
    body = await search(text, { k, offset, mode }, mine.signal);
  } catch (error) {
    if (mine.signal.aborted || error.name === "AbortError") return;
    if (!append) {
      results.replaceChildren();
      notice.hidden = true;
      moreButton.hidden = true;
    }
    showError(error.message, () => run(text, append));
    return;
  }
  if (controller !== mine) return; // a newer search started meanwhile
  controller = null;
  render(body, text, append);
  // How many results are shown, kept with this history entry: coming back to it (from an article, or
  // by reload) shows them all again, not only the first page.
  history.replaceState({ shown: resultItems().length }, "");
  return body;
}

// The results shown before the page was left, asked again: the first page with all of them when the API
// allows that many, then the rest a page at a time.
async function restore(text, shown) {
  let body = await run(text, false, Math.min(Math.max(shown, PAGE_SIZE), MAX_K));
  while (body && body.has_more && resultItems().length < shown && question === text) {
    body = await run(text, true, Math.min(shown - resultItems().length, MAX_K));
  }
}

function render(body, text, append) {
  const list = Array.isArray(body.results) ? body.results : [];
  const firstNew = resultItems().length;
  if (!append) {
    results.replaceChildren();
    const box = noticeFor(body);
    notice.replaceChildren(...(box ? [box] : []));
    notice.hidden = !box;
  }
  list.forEach((result, i) => results.append(resultItem(result, `r${firstNew + i + 1}`)));
  const count = resultItems().length;
  moreButton.hidden = !body.has_more;
  if (count === 0) {
    const hint = hasExamples ? ", or one of the examples" : "";
    status.replaceChildren("No passages match “", quoted(text), `”: try other words${hint}.`);
    examples.hidden = !hasExamples;
    setState("none");
    return;
  }
  status.replaceChildren(...describe(count, text, body.has_more));
  setState(body.answerable === false ? "low-confidence" : "results");
  if (append && list.length) resultItems()[firstNew].focus();
}

function searchNow() {
  clearTimeout(debounceTimer);
  const text = input.value.trim();
  if (text) run(text);
  else clearAll();
}

// An input method (Japanese, Chinese, Korean; dead keys) composes a character over several keystrokes: the
// text is searched once it is committed (compositionend), not at every step of the composition.
input.addEventListener("input", (event) => {
  if (event.isComposing) return;
  typed();
});
input.addEventListener("compositionend", typed);

function typed() {
  clearTimeout(debounceTimer);
  const text = input.value.trim();
  if (!text) {
    const typed = input.value;
    clearAll();
    input.value = typed;
    return;
  }
  if (text === question && document.body.dataset.state !== "error") return; // e.g. a trailing space
  debounceTimer = setTimeout(() => run(text), DEBOUNCE_MS);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  searchNow();
});

examples.addEventListener("click", (event) => {
  const button = event.target.closest("button.example");
  if (!button) return;
  input.value = button.dataset.q;
  searchNow();
  input.focus();
});

retryButton.addEventListener("click", () => {
  if (retry) retry();
});

// "More results" is for the question in the box: when it was edited since the results came (its search
// still waiting out the debounce), that search runs now instead of a page of the old question.
moreButton.addEventListener("click", () => {
  const text = input.value.trim();
  if (text && text !== question) searchNow();
  else if (question) run(question, true);
});

// Keyboard: arrows move between the search box and the results, Enter opens, Escape clears.
document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  const items = resultItems();
  const current = event.target instanceof Element ? event.target.closest("article.result") : null;
  if (event.key === "Escape") {
    event.preventDefault();
    clearAll();
    input.focus();
  } else if (event.key === "ArrowDown") {
    const next = event.target === input ? items[0] : current ? items[items.indexOf(current) + 1] : null;
    if (next) {
      event.preventDefault();
      next.focus();
    }
  } else if (event.key === "ArrowUp" && current) {
    event.preventDefault();
    const index = items.indexOf(current);
    (index > 0 ? items[index - 1] : input).focus();
  } else if (event.key === "Enter" && current && event.target === current) {
    event.preventDefault();
    const link = current.querySelector("a.view");
    if (link) location.assign(link.href);
  }
});

// The examples first, so that the page is "empty" only once they are in place.
hasExamples = await loadExamples($("example-list"), input);
const initial = new URLSearchParams(location.search).get("q");
if (initial && initial.trim()) {
  input.value = initial;
  const shown = Number(history.state && history.state.shown);
  restore(initial.trim(), Number.isInteger(shown) ? shown : PAGE_SIZE);
} else {
  examples.hidden = !hasExamples;
  setState("empty");
}
