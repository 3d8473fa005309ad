// Calls to the citeqa JSON API. Errors become ApiError with the server's own message when it sent one.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

export async function getJson(url, signal, init = {}) {
  let response;
  try {
    response = await fetch(url, { ...init, signal, headers: { Accept: "application/json", ...init.headers } });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("Could not reach the search service. Check your connection and try again.", 0);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    if (error.name === "AbortError") throw error;
  }
  if (!response.ok) {
    const detail = body && typeof body.message === "string" ? body.message : "";
    throw new ApiError(
      detail || `The search service failed (HTTP ${response.status}). Try again in a moment.`,
      response.status,
    );
  }
  if (body === null || typeof body !== "object") {
    throw new ApiError("The search service sent an answer this page cannot read.", response.status);
  }
  return body;
}

export function searchUrl(question, { k, offset = 0, mode } = {}) {
  const params = new URLSearchParams({ q: question, k: String(k), offset: String(offset) });
  if (mode) params.set("mode", mode);
  return `/search?${params}`;
}

// Longest URL sent as GET /search. A question may hold 10,000 characters, but percent-encoded that is up
// to 90 kB of URL, and servers and proxies refuse long request lines (uvicorn at about 64 kB, nginx at
// 8 kB by default) with a bare 400 or 414. A longer question goes as POST /query: the same contract and
// the same answer (README, "One query contract").
export const MAX_GET_URL = 8000;

// One page of results for ``question``: GET /search (cacheable), or POST /query for a long question.
export function search(question, { k, offset = 0, mode } = {}, signal) {
  const url = searchUrl(question, { k, offset, mode });
  if (url.length <= MAX_GET_URL) return getJson(url, signal);
  const body = { question, top_k: k, offset, ...(mode ? { mode } : {}) };
  return getJson("/query", signal, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

// The article view of a citation; ``highlights`` (the answering sentences, document offsets in code points
// like start and end) go along as hl=120-180,200-240 for the view to mark more strongly.
export function viewUrl(citation, highlights = []) {
  const params = new URLSearchParams({ start: String(citation.start), end: String(citation.end) });
  const spans = (Array.isArray(highlights) ? highlights : [])
    .filter((h) => h && Number.isInteger(h.start) && Number.isInteger(h.end) && h.start < h.end)
    .map((h) => `${h.start}-${h.end}`);
  const hl = spans.length ? `&hl=${spans.join(",")}` : "";
  return `/documents/${encodeURIComponent(citation.doc_id)}/view?${params}${hl}#cited`;
}

// Only http(s) links from document metadata become hrefs: a "javascript:" URL must never be clickable.
export function safeExternalUrl(url) {
  if (typeof url !== "string" || !url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}
