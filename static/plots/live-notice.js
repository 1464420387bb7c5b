// Notice for live pages whose Bokeh websocket cannot connect.
//
// BokehJS gives up silently when the first websocket of a page fails, for
// example behind a proxy that does not forward the Upgrade header, and the
// page stays blank. This script watches the websockets the page opens. When
// one closes before it ever opened, or has not opened after NOTICE_AFTER_MS,
// it shows a notice that names the URL and points to the deployment guide.
// After a failure it reloads the page to try again, waiting longer after each
// failure in a row (at most RETRY_MAX_MS), so a broken proxy gets a few
// attempts a minute. Once BokehJS has its document, it reconnects by itself.
"use strict";

(function () {
  const NOTICE_AFTER_MS = 5000;
  const RETRY_FIRST_MS = 10000;
  const RETRY_MAX_MS = 60000;
  // The server closes a plot socket with this code (RFC 6455's 1009,
  // "message too big", in the application range) instead of sending an
  // update larger than its websocket limit.
  const CLOSE_MESSAGE_TOO_BIG = 4009;
  const STORAGE_KEY = "clusterdash-live-failures:" + window.location.pathname;
  const NativeWebSocket = window.WebSocket;
  let noticeElement = null;

  function failuresSoFar() {
    try {
      return Number(window.sessionStorage.getItem(STORAGE_KEY)) || 0;
    } catch (error) {
      return 0;
    }
  }

  function storeFailures(count) {
    try {
      if (count > 0) {
        window.sessionStorage.setItem(STORAGE_KEY, String(count));
      } else {
        window.sessionStorage.removeItem(STORAGE_KEY);
      }
    } catch (error) {
      // Storage may be disabled in frames; retries then never back off
      // beyond RETRY_FIRST_MS.
    }
  }

  function showNotice(text) {
    if (noticeElement === null) {
      noticeElement = document.createElement("p");
      noticeElement.className = "live-notice";
      noticeElement.setAttribute("role", "alert");
      document.body.prepend(noticeElement);
    }
    noticeElement.textContent = text;
  }

  function clearNotice() {
    if (noticeElement !== null) {
      noticeElement.remove();
      noticeElement = null;
    }
  }

  function explain(url) {
    return (
      "Live updates could not connect: the websocket " + url + " did not " +
      "open. If the dashboard is behind a proxy, the proxy must forward " +
      "websocket upgrades (the Upgrade and Connection headers); see " +
      "docs/deployment.md in clusterdash."
    );
  }

  function retryLater(text) {
    const failures = failuresSoFar() + 1;
    storeFailures(failures);
    const delay = Math.min(RETRY_FIRST_MS * 2 ** (failures - 1), RETRY_MAX_MS);
    showNotice(text + " Retrying in " + Math.round(delay / 1000) + " s.");
    window.setTimeout(function () {
      window.location.reload();
    }, delay);
  }

  function watch(socket, url) {
    let opened = false;
    let failed = false;
    const timer = window.setTimeout(function () {
      if (!opened && !failed) {
        showNotice(explain(url) + " Still waiting for it.");
      }
    }, NOTICE_AFTER_MS);
    socket.addEventListener("open", function () {
      opened = true;
      window.clearTimeout(timer);
      storeFailures(0);
      clearNotice();
    });
    socket.addEventListener("close", function (event) {
      window.clearTimeout(timer);
      if (failed) {
        return;
      }
      if (!opened) {
        failed = true;
        retryLater(explain(url));
      } else if (event.code === CLOSE_MESSAGE_TOO_BIG) {
        failed = true;
        retryLater(
          "Live updates stopped: the server closed the websocket because " +
          "an update was larger than it may send. The page reloads to start " +
          "a new session."
        );
      }
    });
  }

  class WatchedWebSocket extends NativeWebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      watch(this, String(url));
    }
  }

  window.WebSocket = WatchedWebSocket;
})();
