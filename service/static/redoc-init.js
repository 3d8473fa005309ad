// Starts ReDoc (loaded right after this file, from the app itself) on the app's OpenAPI document.
// ReDoc writes its styles into <style> elements, some while its bundle loads: every <style> element
// created on this page gets this script's nonce, the one the page's Content-Security-Policy allows for
// styles (so no 'unsafe-inline').
const nonce = document.currentScript.nonce;
const createElement = document.createElement.bind(document);
document.createElement = (tag, options) => {
  const element = createElement(tag, options);
  if (String(tag).toLowerCase() === "style") element.nonce = nonce;
  return element;
};
document.addEventListener("DOMContentLoaded", () => {
  Redoc.init("/openapi.json", { nonce }, document.getElementById("redoc"));
});
