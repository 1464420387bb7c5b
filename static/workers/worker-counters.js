// Refresh a worker's counter tables by polling their JSON endpoint.
(function () {
  "use strict";

  const container = document.getElementById("worker-counters");
  const statusLine = document.getElementById("worker-counters-status");
  const url = container.dataset.url;
  const interval = Number(container.dataset.interval) || 1000;

  function cell(tag, text) {
    const element = document.createElement(tag);
    element.textContent = String(text);
    return element;
  }

  function render(counters) {
    const tables = [];
    for (const name of Object.keys(counters).sort()) {
      const table = document.createElement("table");
      table.className = "worker-counter";
      table.appendChild(cell("caption", name));
      const header = document.createElement("tr");
      header.append(cell("th", "Value"), cell("th", "Count"));
      table.appendChild(header);
      const rows = Object.entries(counters[name]).sort(
        (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
      );
      for (const [value, count] of rows) {
        const row = document.createElement("tr");
        row.append(cell("td", value), cell("td", count));
        table.appendChild(row);
      }
      tables.push(table);
    }
    container.replaceChildren(...tables);
  }

  async function poll() {
    try {
      const response = await fetch(url, {credentials: "same-origin"});
      const body = await response.json();
      if (response.ok) {
        statusLine.textContent = "";
        render(body.counters);
      } else {
        statusLine.textContent = body.error || "Request failed with status " + response.status;
      }
    } catch (error) {
      statusLine.textContent = "Request failed: " + error;
    }
    window.setTimeout(poll, interval);
  }

  window.setTimeout(poll, interval);
})();
