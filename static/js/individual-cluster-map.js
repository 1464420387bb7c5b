// Cluster map: workers around the scheduler, animated from /eventstream.
//
// The websocket URL is built from this page's own URL, so the page works
// under any URL prefix and over wss:// when the page came over https://.
// Every key and address is inserted with textContent or setAttribute, never
// as markup, because task keys are arbitrary user text.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const PAGE = "statics/individual-cluster-map.html";
  const RING = 380;
  const WORKER_RADIUS = 12;
  const RECENT_LIMIT = 12;
  // Notice shown when no connection opens within this many milliseconds.
  const NOTICE_AFTER_MS = 5000;
  // Reconnect delays double from the first to the last value.
  const RETRY_FIRST_MS = 1000;
  const RETRY_MAX_MS = 30000;

  const links = document.getElementById("links");
  const workerLayer = document.getElementById("workers");
  const flights = document.getElementById("flights");
  const statusLine = document.getElementById("status");
  const recent = document.getElementById("recent");
  const workers = new Map();

  function eventStreamUrl() {
    const url = new URL(window.location.href);
    const path = url.pathname;
    const base = path.endsWith(PAGE)
      ? path.slice(0, path.length - PAGE.length)
      : path.replace(/[^/]*$/, "").replace(/statics\/$/, "");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.pathname = base + "eventstream";
    url.search = "";
    url.hash = "";
    return url.toString();
  }

  function setStatus(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", Boolean(isError));
  }

  function svgElement(name, attributes) {
    const element = document.createElementNS(SVG, name);
    for (const [attribute, value] of Object.entries(attributes)) {
      element.setAttribute(attribute, String(value));
    }
    return element;
  }

  function layout() {
    const addresses = Array.from(workers.keys()).sort();
    addresses.forEach(function (address, index) {
      const angle = (2 * Math.PI * index) / addresses.length - Math.PI / 2;
      const worker = workers.get(address);
      worker.x = RING * Math.cos(angle);
      worker.y = RING * Math.sin(angle);
      worker.circle.setAttribute("cx", worker.x);
      worker.circle.setAttribute("cy", worker.y);
      worker.link.setAttribute("x2", worker.x);
      worker.link.setAttribute("y2", worker.y);
    });
  }

  function addWorker(address) {
    if (typeof address !== "string" || workers.has(address)) {
      return;
    }
    const circle = svgElement("circle", { r: WORKER_RADIUS, class: "worker" });
    const title = svgElement("title", {});
    title.textContent = address;
    circle.appendChild(title);
    const link = svgElement("line", { x1: 0, y1: 0, class: "link" });
    links.appendChild(link);
    workerLayer.appendChild(circle);
    workers.set(address, { circle: circle, link: link, x: 0, y: 0, busy: 0 });
    layout();
  }

  function removeWorker(address) {
    const worker = workers.get(address);
    if (!worker) {
      return;
    }
    worker.circle.remove();
    worker.link.remove();
    workers.delete(address);
    layout();
  }

  function reset() {
    for (const address of Array.from(workers.keys())) {
      removeWorker(address);
    }
    flights.replaceChildren();
  }

  function durationMs(event) {
    const seconds = Number(event.stop) - Number(event.start);
    // Clamp so very short tasks stay visible and long ones do not pile up.
    return Math.min(Math.max(seconds * 1000, 300), 3000);
  }

  function animate(element, from, to, ms) {
    const started = performance.now();
    function step(now) {
      const t = Math.min((now - started) / ms, 1);
      element.setAttribute("cx", from.x + (to.x - from.x) * t);
      element.setAttribute("cy", from.y + (to.y - from.y) * t);
      if (t < 1) {
        window.requestAnimationFrame(step);
      } else {
        element.remove();
      }
    }
    window.requestAnimationFrame(step);
  }

  function keyText(key) {
    return typeof key === "string" ? key : JSON.stringify(key);
  }

  function remember(event) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.backgroundColor = String(event.color || "black");
    item.appendChild(swatch);
    item.appendChild(document.createTextNode(keyText(event.key)));
    item.title = keyText(event.key) + " on " + String(event.worker);
    recent.prepend(item);
    while (recent.children.length > RECENT_LIMIT) {
      recent.lastElementChild.remove();
    }
  }

  function runCompute(event) {
    const worker = workers.get(event.worker);
    if (!worker) {
      return;
    }
    const dot = svgElement("circle", { r: 5, cx: 0, cy: 0 });
    dot.style.fill = String(event.color || "black");
    flights.appendChild(dot);
    animate(dot, { x: 0, y: 0 }, worker, durationMs(event));
    worker.busy += 1;
    worker.circle.classList.add("busy");
    window.setTimeout(function () {
      worker.busy -= 1;
      if (worker.busy <= 0) {
        worker.circle.classList.remove("busy");
      }
    }, durationMs(event));
    remember(event);
  }

  function runTransfer(event) {
    const source = workers.get(event.source);
    const target = workers.get(event.worker);
    if (!source || !target) {
      return;
    }
    const path = svgElement("path", {
      class: "transfer",
      d: `M ${source.x} ${source.y} Q 0 0 ${target.x} ${target.y}`,
    });
    flights.appendChild(path);
    window.setTimeout(function () {
      path.remove();
    }, durationMs(event));
  }

  function runFlash(event, color) {
    const worker = workers.get(event.worker);
    if (!worker) {
      return;
    }
    const ring = svgElement("circle", {
      cx: worker.x,
      cy: worker.y,
      r: WORKER_RADIUS + 6,
      fill: "none",
      "stroke-width": 3,
    });
    ring.style.stroke = color;
    flights.appendChild(ring);
    window.setTimeout(function () {
      ring.remove();
    }, durationMs(event));
  }

  function handle(event) {
    switch (event.name) {
      case "add_worker":
        addWorker(event.worker);
        break;
      case "remove_worker":
        removeWorker(event.worker);
        break;
      case "restart":
        reset();
        break;
      case "transition":
        if (event.action === "compute") {
          runCompute(event);
        } else if (event.action === "transfer") {
          runTransfer(event);
        } else if (event.action === "disk-read" || event.action === "disk-write") {
          runFlash(event, "orange");
        } else if (event.action === "deserialize") {
          runFlash(event, "gray");
        }
        break;
      default:
        break;
    }
  }

  let retryMs = RETRY_FIRST_MS;

  function connectFailure(url) {
    return (
      "Live updates could not connect: the websocket " + url + " did not " +
      "open. If the dashboard is behind a proxy, the proxy must forward " +
      "websocket upgrades (the Upgrade and Connection headers); see " +
      "docs/deployment.md in clusterdash."
    );
  }

  function connect() {
    const url = eventStreamUrl();
    const socket = new WebSocket(url);
    let opened = false;
    const notice = window.setTimeout(function () {
      if (!opened) {
        setStatus(connectFailure(url) + " Still waiting for it.", true);
      }
    }, NOTICE_AFTER_MS);
    socket.addEventListener("open", function () {
      opened = true;
      retryMs = RETRY_FIRST_MS;
      window.clearTimeout(notice);
      reset();
      setStatus("Live", false);
    });
    socket.addEventListener("message", function (message) {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (event && typeof event === "object") {
        handle(event);
      }
    });
    socket.addEventListener("close", function (close) {
      window.clearTimeout(notice);
      const seconds = Math.round(retryMs / 1000);
      if (opened) {
        setStatus(
          "Event stream closed (code " + close.code + "); retrying in " + seconds +
            " s",
          false
        );
      } else {
        setStatus(connectFailure(url) + " Retrying in " + seconds + " s.", true);
      }
      window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    });
  }

  connect();
})();
