// Starts Swagger UI (loaded just before, from the app itself) on the app's OpenAPI document. A file of its
// own, not an inline script, so the page's Content-Security-Policy allows scripts from 'self' only.
// validatorUrl null: the spec is never sent to an online validator.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
});
