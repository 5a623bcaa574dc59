// The labeling page: keyboard shortcuts, zoom, time spent per item, image prefetch, and the
// click-to-next-item timings the browser tests read (window.tweezersLabel.timings, in ms).
(function () {
  "use strict";

  const ZOOM_STEPS = [1, 1.5, 2, 3, 4, 6, 8];
  // A double click must not answer the next item too: mouse clicks on a freshly shown item
  // are ignored this long (keyboard answers are not: they cannot bounce).
  const MOUSE_GUARD_MS = 350;
  const state = { zoomIndex: 0, shownAt: performance.now(), clickAt: null, timings: [], prefetched: [] };
  window.tweezersLabel = state;

  function panel() {
    return document.getElementById("label-panel");
  }

  function applyZoom() {
    const current = panel();
    const image = current && current.querySelector(".item-image");
    if (!image) return;
    const zoom = ZOOM_STEPS[state.zoomIndex];
    image.style.width = image.style.height = zoom === 1 ? "" : zoom * 100 + "%";
    const level = current.querySelector(".zoom-level");
    if (level) level.textContent = zoom === 1 ? "Fit" : zoom + "×";
    // Zoom towards the centre of the item, where the finding usually is.
    const stage = image.parentElement;
    stage.scrollLeft = (stage.scrollWidth - stage.clientWidth) / 2;
    stage.scrollTop = (stage.scrollHeight - stage.clientHeight) / 2;
  }

  function zoom(direction) {
    if (direction === "fit") state.zoomIndex = 0;
    else if (direction === "in") state.zoomIndex = Math.min(state.zoomIndex + 1, ZOOM_STEPS.length - 1);
    else if (direction === "out") state.zoomIndex = Math.max(state.zoomIndex - 1, 0);
    applyZoom();
  }

  function prefetch() {
    const url = panel() && panel().dataset.prefetch;
    if (!url) return;
    // Warms the browser cache (the file view allows private caching) so the next item's
    // image is drawn from memory the moment it is served.
    const image = new Image();
    image.src = url;
    state.prefetched.push(image);
    if (state.prefetched.length > 10) state.prefetched.shift();
  }

  function itemShown() {
    state.shownAt = performance.now();
    applyZoom();
    prefetch();
    const clickAt = state.clickAt;
    state.clickAt = null;
    if (clickAt === null) return;
    const image = panel() && panel().querySelector(".item-image");
    const record = () => state.timings.push(performance.now() - clickAt);
    if (image && !image.complete) {
      image.decode().then(record, record);
    } else {
      record();
    }
  }

  document.addEventListener("click", function (event) {
    const zoomButton = event.target.closest("[data-zoom]");
    if (zoomButton) {
      zoom(zoomButton.dataset.zoom);
      return;
    }
    const action = event.target.closest("#label-panel [data-key], #label-panel [data-undo]");
    if (!action) return;
    if (event.detail > 0 && performance.now() - state.shownAt < MOUSE_GUARD_MS) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    state.clickAt = performance.now();
  }, true);

  document.addEventListener("dblclick", function (event) {
    if (event.target.closest(".stage")) zoom(state.zoomIndex === 0 ? "in" : "fit");
  });

  document.addEventListener("keydown", function (event) {
    if (event.target.closest("textarea, input, select")) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.metaKey || event.altKey || event.repeat) return;
    const current = panel();
    if (!current) return;
    const isUndo = (event.ctrlKey && event.key.toLowerCase() === "z") ||
      (!event.ctrlKey && event.key === "Backspace");
    if (isUndo) {
      const undo = current.querySelector("[data-undo]");
      if (undo && !undo.disabled) {
        event.preventDefault();
        undo.click();
      }
      return;
    }
    if (event.ctrlKey) return;
    if (event.key === "+" || event.key === "=") { zoom("in"); return; }
    if (event.key === "-" || event.key === "_") { zoom("out"); return; }
    const key = event.key === " " ? " " : event.key.toLowerCase();
    const button = current.querySelector('[data-key="' + CSS.escape(key) + '"]');
    if (button) {
      event.preventDefault();
      if (!button.disabled) button.click();
    }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    const elt = event.detail.elt;
    if (!(elt instanceof Element) || !elt.matches("#label-panel form")) return;
    const seconds = ((performance.now() - state.shownAt) / 1000).toFixed(2);
    const parameters = event.detail.parameters;
    if (typeof parameters.set === "function") parameters.set("seconds_spent", seconds);
    else parameters.seconds_spent = seconds;
  });

  // A session that ran out answers with the login page: go there instead of swapping it in.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const url = event.detail.xhr && event.detail.xhr.responseURL;
    if (url && new URL(url).pathname.startsWith("/accounts/login/")) {
      event.detail.shouldSwap = false;
      window.location.assign(url);
    }
  });

  // After an outerHTML swap the panel is a new element: that is a new item (or state).
  document.addEventListener("htmx:afterSwap", function () {
    const current = panel();
    if (current && current !== state.panelElement) {
      state.panelElement = current;
      itemShown();
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    const current = panel();
    if (!current) return;
    const banner = document.createElement("div");
    banner.className = "banner bad";
    banner.setAttribute("role", "alert");
    banner.textContent = "The server did not accept that (" + event.detail.xhr.status +
      "). Reload the page to continue.";
    current.prepend(banner);
  });

  document.addEventListener("htmx:sendError", function () {
    const current = panel();
    if (!current) return;
    const banner = document.createElement("div");
    banner.className = "banner bad";
    banner.setAttribute("role", "alert");
    banner.textContent = "No connection to the server. Your last answer was not saved; try again.";
    current.prepend(banner);
  });

  document.addEventListener("DOMContentLoaded", function () {
    state.panelElement = panel();
    state.shownAt = performance.now();
    prefetch();
  });
})();
