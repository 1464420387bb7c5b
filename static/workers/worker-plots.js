// Embed a worker plot page and refresh its named data sources by polling.
//
// The page carries the Bokeh layout as JSON (json_item) and the URL of its
// data endpoint, which returns {"sources": {name: columns}}. A failed poll
// shows the server's message and the next poll tries again.
(function () {
  "use strict";

  const container = document.getElementById("worker-plot");
  const statusLine = document.getElementById("worker-plot-status");
  const item = JSON.parse(document.getElementById("worker-plot-item").textContent);
  const url = container.dataset.url;
  const interval = Number(container.dataset.interval) || 1000;
  const lastPayload = {};

  function showStatus(text) {
    statusLine.textContent = text;
  }

  function applySources(sources) {
    const documents = window.Bokeh.documents;
    if (!documents.length) {
      return;
    }
    const doc = documents[documents.length - 1];
    for (const [name, columns] of Object.entries(sources)) {
      // Replacing equal data would clear a selection for nothing.
      const payload = JSON.stringify(columns);
      if (lastPayload[name] === payload) {
        continue;
      }
      lastPayload[name] = payload;
      const source = doc.get_model_by_name(name);
      if (source !== null) {
        source.data = columns;
      }
    }
  }

  async function poll() {
    try {
      const response = await fetch(url, {credentials: "same-origin"});
      const body = await response.json();
      if (!response.ok) {
        showStatus(body.error || "Request failed with status " + response.status);
      } else {
        showStatus("");
        applySources(body.sources);
      }
    } catch (error) {
      showStatus("Request failed: " + error);
    }
    window.setTimeout(poll, interval);
  }

  window.Bokeh.embed.embed_item(item, "worker-plot").then(poll);
})();
