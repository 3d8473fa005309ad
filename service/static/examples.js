// The page's example questions, placeholder and title, from GET /examples: they are the served corpus's
// own (or none, and then the examples stay hidden). Text only ever becomes text nodes.

import { getJson } from "./api.js";
import { el } from "./render.js";

const BASE_TITLE = "citeqa: answers with exact citations";

function strings(values) {
  return Array.isArray(values) ? values.filter((v) => typeof v === "string" && v.trim()) : [];
}

// Fills the list and the placeholder; resolves to whether there is any example to show.
export async function loadExamples(list, input) {
  let body;
  try {
    body = await getJson("/examples");
  } catch {
    return false; // an older server, or reads need a key: no examples, the page works all the same
  }
  const questions = strings(body.questions);
  list.replaceChildren(
    ...questions.map((q) => el("li", {}, el("button", { type: "button", className: "example", dataset: { q } }, q))),
  );
  if (typeof body.placeholder === "string" && body.placeholder.trim()) input.placeholder = body.placeholder;
  if (typeof body.corpus === "string" && body.corpus.trim()) document.title = `citeqa: ${body.corpus.trim()}`;
  else document.title = BASE_TITLE;
  return questions.length > 0;
}
