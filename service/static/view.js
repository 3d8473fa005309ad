// The article page: the whole document, with the cited characters text[start:end] in one <mark>.
// Offsets count code points, as the API's do (see codePoints in render.js).
// The text is rendered as three parts (before, the mark, after), so the mark holds exactly the cited
// characters, whatever they contain; the answering sentences (hl=) are marked more strongly inside it.

import { getJson } from "./api.js";
import { codePoints, el, markedText, originalLink, pageLabel, sourceText } from "./render.js";

const $ = (id) => document.getElementById(id);

function docIdFromPath(pathname) {
  const match = /^\/documents\/(.+)\/view\/?$/.exec(pathname); // an id may hold "/" (BEIR ids do)
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null; // not valid percent-encoding (a link cut short, "%E0%A4"): it names no article
  }
}

function parseOffset(value) {
  return value !== null && /^\d+$/.test(value) ? Number(value) : null;
}

function showError(message) {
  $("error-message").textContent = message;
  $("error").hidden = false;
  $("status").textContent = "";
  document.body.dataset.state = "error";
}

// A same-origin search page we came from keeps its question when going back.
function backLink() {
  try {
    const from = new URL(document.referrer);
    if (from.origin === location.origin && from.pathname === "/") $("back").href = from.pathname + from.search;
  } catch {
    // no referrer: keep "/"
  }
}

// The pages of [start, end) from the document's page_starts (code point offsets where each page
// begins; empty without pages), as the API computes them: the page of the first character, and the page
// of the last when it is a later one.
function pagesOf(pageStarts, start, end) {
  const starts = Array.isArray(pageStarts) ? pageStarts.filter(Number.isInteger) : [];
  if (!starts.length) return {};
  const pageAt = (offset) => starts.filter((s) => s <= offset).length;
  const page = pageAt(start);
  const last = pageAt(Math.max(start, end - 1));
  return { page, page_end: last > page ? last : null };
}

function citedSpan(params, length) {
  const hasStart = params.has("start");
  const hasEnd = params.has("end");
  if (!hasStart && !hasEnd) return { span: null };
  const start = parseOffset(params.get("start"));
  const end = parseOffset(params.get("end"));
  if (start === null || end === null || start >= end || end > length) {
    return {
      span: null,
      problem: `The cited span (start=${params.get("start")}, end=${params.get("end")}) is not inside this ` +
        `article of ${length} characters, so nothing is highlighted.`,
    };
  }
  return { span: { start, end } };
}

// hl=120-180,200-240: the answering sentences, document offsets (code points); those inside the cited
// span are kept, cut to it.
function answerSpans(value, span) {
  return (value || "")
    .split(",")
    .map((part) => /^(\d+)-(\d+)$/.exec(part.trim()))
    .filter(Boolean)
    .map((m) => ({ start: Math.max(Number(m[1]), span.start), end: Math.min(Number(m[2]), span.end) }))
    .filter((h) => h.start < h.end);
}

async function main() {
  backLink();
  const docId = docIdFromPath(location.pathname);
  if (!docId) {
    showError("This address does not name an article.");
    return;
  }
  let doc;
  try {
    doc = await getJson(`/documents/${encodeURIComponent(docId)}`);
  } catch (error) {
    showError(error.message);
    return;
  }
  const text = typeof doc.text === "string" ? doc.text : "";
  const chars = codePoints(text);
  const slice = (start, end) => chars.slice(start, end).join("");
  const params = new URLSearchParams(location.search);
  const { span, problem } = citedSpan(params, chars.length);

  document.title = `${doc.title || doc.doc_id}: citeqa`;
  $("article-title").textContent = doc.title || doc.doc_id;
  $("article-source").textContent = sourceText(doc);
  const original = originalLink(doc);
  if (original) $("article-links").append(original);

  const body = $("article-text");
  const note = $("cite-note");
  let mark = null;
  if (span) {
    // The answering sentences (hl=) are marks inside the cited one: its text stays exactly the passage.
    const answers = answerSpans(params.get("hl"), span);
    const cited = markedText(slice(span.start, span.end), span.start, answers, { className: "answering" });
    mark = el("mark", { id: "cited", tabindex: "-1" }, cited);
    body.append(document.createTextNode(slice(0, span.start)), mark, document.createTextNode(slice(span.end)));
    const pages = pageLabel(pagesOf(doc.page_starts, span.start, span.end));
    note.textContent =
      `The highlighted passage is the citation: characters ${span.start} to ${span.end} of this article` +
      (pages ? `, on ${pages}.` : ".") +
      (answers.length ? " The sentences that best answer the question are marked more strongly." : "");
    note.hidden = false;
  } else {
    body.append(document.createTextNode(text));
    if (problem) {
      note.textContent = problem;
      note.classList.add("warning");
      note.hidden = false;
    }
  }
  $("article").hidden = false;
  $("status").textContent = span ? "Article loaded; the cited passage is highlighted." : "Article loaded.";
  document.body.dataset.state = span ? "cited" : "article";
  if (mark) {
    mark.scrollIntoView({ block: "center" });
    mark.focus({ preventScroll: true });
  }
}

main();
