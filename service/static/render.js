// DOM builders shared by the pages. Text from documents and queries only ever becomes text nodes
// (createTextNode / textContent); nothing here parses HTML.

import { safeExternalUrl, viewUrl } from "./api.js";

// el("p", {className: "x", href: "..."}, "text", childNode, ...): strings become text nodes.
// Text from documents gets dir: "auto": a Hebrew or Arabic passage reads right to left inside the page.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

// Cut [0, length) into plain and marked pieces. ``ranges`` are relative offsets, possibly unsorted,
// overlapping or out of bounds (they come from the server); the pieces cover every character once.
export function segments(length, ranges) {
  const clean = (Array.isArray(ranges) ? ranges : [])
    .filter((r) => r && Number.isInteger(r.start) && Number.isInteger(r.end))
    .map((r) => ({ start: Math.max(0, r.start), end: Math.min(length, r.end) }))
    .filter((r) => r.start < r.end)
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const merged = [];
  for (const range of clean) {
    const last = merged[merged.length - 1];
    if (last && range.start <= last.end) last.end = Math.max(last.end, range.end);
    else merged.push({ ...range });
  }
  const pieces = [];
  let at = 0;
  for (const range of merged) {
    if (range.start > at) pieces.push({ start: at, end: range.start, marked: false });
    pieces.push({ start: range.start, end: range.end, marked: true });
    at = range.end;
  }
  if (at < length) pieces.push({ start: at, end: length, marked: false });
  return pieces;
}

// The API's offsets count Unicode code points (as Python's str does); JavaScript strings count UTF-16
// units, so an emoji or any character outside the Basic Multilingual Plane is two. Slicing the array of
// code points keeps every offset exact.
export function codePoints(text) {
  return Array.from(text);
}

// ``text`` starts at document offset ``base``; ``highlights`` are document offsets (code points).
export function markedText(text, base, highlights, markProps = {}) {
  const chars = codePoints(text);
  const relative = (highlights || []).map((h) => ({ start: h.start - base, end: h.end - base }));
  const fragment = document.createDocumentFragment();
  for (const piece of segments(chars.length, relative)) {
    const part = chars.slice(piece.start, piece.end).join("");
    fragment.append(piece.marked ? el("mark", markProps, part) : document.createTextNode(part));
  }
  return fragment;
}

// "p. 12", or "pp. 12–13" when the cited span crosses pages; "" for a document without pages (the API
// sends page and page_end only for a paged document, a PDF: page holds the first cited character).
export function pageLabel(citation) {
  const page = citation ? citation.page : null;
  if (!Number.isInteger(page) || page < 1) return "";
  const last = citation.page_end;
  return Number.isInteger(last) && last > page ? `pp. ${page}\u2013${last}` : `p. ${page}`;
}

export function sourceText(citation) {
  const parts = [citation.author, citation.publisher].filter((p) => typeof p === "string" && p.trim());
  return [...new Set(parts)].join(" · ");
}

function hostOf(url) {
  try {
    return new URL(url).hostname.replace(/^www\./, "");
  } catch {
    return "";
  }
}

export function originalLink(citation) {
  const href = safeExternalUrl(citation.url);
  if (!href) return null;
  const host = hostOf(href);
  return el(
    "a",
    { className: "original", href, rel: "noopener noreferrer", target: "_blank" },
    "Original article",
    host ? el("span", { className: "host" }, ` (${host})`) : null,
    el("span", { className: "visually-hidden" }, " (opens in a new tab)"),
  );
}

export function resultItem(result, id) {
  const c = result.citation;
  const titleId = `${id}-title`;
  const source = sourceText(c);
  const pages = pageLabel(c);
  const article = el(
    "article",
    { className: "result", tabindex: "-1", "aria-labelledby": titleId, dataset: { rank: result.rank } },
    el(
      "h2",
      { className: "result-title", id: titleId, dir: "auto" },
      c.title || c.doc_id,
      pages ? " " : null,
      pages ? el("span", { className: "page" }, pages) : null,
    ),
    source ? el("p", { className: "source" }, source) : null,
    snippetBlock(result),
    el(
      "details",
      { className: "full" },
      el("summary", {}, "Whole passage"),
      el(
        "blockquote",
        { className: "passage", dir: "auto" },
        markedText(result.text, c.start, result.highlights),
      ),
    ),
    el(
      "p",
      { className: "links" },
      el("a", { className: "view", href: viewUrl(c, result.highlights) }, "View in article"),
      originalLink(c),
      relevanceBadge(result.relevance),
    ),
  );
  return el("li", {}, article);
}

// The answering sentences in a little context (the API's ``snippet``, exact document offsets), marked;
// "…" where the snippet starts or ends inside the passage. The whole passage is one click away.
function snippetBlock(result) {
  const c = result.citation;
  const snippet = result.snippet;
  if (!snippet || typeof snippet.text !== "string") return null;
  return el(
    "p",
    { className: "snippet", dir: "auto" },
    snippet.start > c.start ? "… " : null,
    markedText(snippet.text, snippet.start, result.highlights),
    snippet.end < c.end ? " …" : null,
  );
}

// The calibrated chance that this passage answers the question (the API's ``relevance``), as a percentage;
// the raw ranking ``score`` means nothing outside one result list, so it is never shown.
function relevanceBadge(relevance) {
  const shown = percent(relevance);
  if (!shown) return null;
  const title = "How likely this passage answers the question (calibrated on labelled questions)";
  return el("span", { className: "relevance", title }, `relevance ${shown}`);
}

// A probability as a percentage; one that rounds to 0% or 100% but is neither says "<1%" or ">99%", so
// that a calibrated 0.997 does not read as certainty.
function percent(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  const rounded = Math.round(value * 100);
  if (rounded >= 100 && value < 1) return ">99%";
  if (rounded <= 0 && value > 0) return "<1%";
  return `${rounded}%`;
}

// The answer box, or the low-confidence warning when the API says the passages may not answer.
// Both fields are optional: older servers send neither, and then nothing is shown.
export function noticeFor(body) {
  const confidence = percent(body.confidence);
  if (body.answerable === false) {
    return el(
      "div",
      { className: "low-confidence" },
      el("h2", {}, "These passages may not answer your question"),
      el(
        "p",
        {},
        "No passage clearly answers it",
        confidence ? ` (confidence ${confidence})` : "",
        ". The closest passages are below; try rephrasing or asking something more specific.",
      ),
    );
  }
  const answer = body.answer;
  if (answer && typeof answer.text === "string" && answer.citation) {
    const pages = pageLabel(answer.citation);
    return el(
      "div",
      { className: "answer" },
      el("h2", {}, "Answer"),
      el("p", { className: "answer-text", dir: "auto" }, answer.text),
      el(
        "p",
        { className: "answer-cite" },
        "From ",
        el("a", { href: viewUrl(answer.citation) }, answer.citation.title || answer.citation.doc_id),
        pages ? el("span", { className: "page" }, `, ${pages}`) : null,
        confidence ? ` · confidence ${confidence}` : "",
      ),
    );
  }
  return null;
}
