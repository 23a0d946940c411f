// Swagger UI on the daemon's own document. validatorUrl: null keeps it from asking the public
// validator for a badge: the page reaches nothing but the daemon.
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
  });
});
