// The DICOM viewer on the labeling page: window presets, window drag and keys, invert, and
// frame navigation by keys or wheel. The server renders every view (the browser never decodes
// DICOM); this script only changes the item image's URL. It keeps to itself: it finds the
// labeling panel's image by class, and claims its own keys before the page's shortcuts see them.
(function () {
  "use strict";

  const PRESET_BY_DIGIT = { Digit1: "own", Digit2: "soft_tissue", Digit3: "lung", Digit4: "bone", Digit5: "brain" };
  const state = {
    itemId: null, info: null, frame: 0, preset: "own", custom: null, invert: false,
    loads: 0, drag: null, infos: new Map(), prefetched: [],
  };
  window.tweezersDicom = state;

  function viewer() { return document.getElementById("dicom-viewer"); }
  function panel() { return document.getElementById("label-panel"); }
  function image() { const p = panel(); return p && p.querySelector(".item-image"); }

  function currentWindow() {
    if (state.custom) return state.custom;
    if (state.preset !== "own") return state.info.presets[state.preset];
    return state.info.window;
  }

  function isDefaultView() {
    return state.preset === "own" && !state.custom && !state.invert &&
      state.frame === Math.floor(state.info.frames / 2);
  }

  function renderUrl(info, frame) {
    info = info || state.info;
    const params = new URLSearchParams({ frame: String(frame === undefined ? state.frame : frame) });
    if (state.custom) {
      params.set("wc", state.custom[0].toFixed(1));
      params.set("ww", state.custom[1].toFixed(1));
    } else {
      params.set("preset", state.preset);
    }
    if (state.invert) params.set("invert", "1");
    return info.render_url + "?" + params.toString();
  }

  function describe() {
    const bar = viewer();
    const win = currentWindow();
    const windowText = bar.querySelector(".dicom-window");
    windowText.textContent = win && !state.info.color
      ? bar.dataset.windowText.replace("{width}", Math.round(win[1])).replace("{level}", Math.round(win[0]))
      : "";
    const frames = bar.querySelector(".dicom-frames");
    frames.hidden = state.info.frames < 2;
    bar.querySelector(".dicom-frame").textContent = bar.dataset.frameText
      .replace("{n}", state.frame + 1).replace("{total}", state.info.frames);
    bar.querySelectorAll("[data-preset]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(!state.custom && button.dataset.preset === state.preset));
      button.disabled = state.info.color && button.dataset.preset !== "own";
    });
    bar.querySelector("[data-invert]").setAttribute("aria-pressed", String(state.invert));
  }

  function show() {
    const img = image();
    if (!img || !state.info) return;
    describe();
    const stage = img.closest(".stage");
    if (stage) stage.classList.add("dicom-active");
    img.dataset.dicomFrame = String(state.frame);
    if (isDefaultView() && !img.dataset.dicomChanged) return;
    img.dataset.dicomChanged = "1";
    state.loads += 1;
    img.src = renderUrl();
  }

  function hide() {
    const bar = viewer();
    if (bar) bar.hidden = true;
    state.info = null;
  }

  function infoFor(id) {
    if (state.infos.has(id)) return state.infos.get(id);
    const url = viewer().dataset.infoUrl.replace("/0/", "/" + encodeURIComponent(id) + "/");
    const pending = fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; });
    state.infos.set(id, pending);
    if (state.infos.size > 20) state.infos.delete(state.infos.keys().next().value);
    return pending;
  }

  // The page prefetches the next item's stored image; in a preset or inverted, the viewer
  // will show another rendition, so warm that one too (and the item's info).
  function prefetchNext() {
    const p = panel();
    const match = p && p.dataset.prefetch && p.dataset.prefetch.match(/\/items\/(\d+)\//);
    if (!match || (state.preset === "own" && !state.invert)) return;
    infoFor(match[1]).then(function (info) {
      if (!info || (info.color && !state.invert)) return;
      const warm = new Image();
      warm.src = renderUrl(info, Math.floor(info.frames / 2));
      state.prefetched.push(warm);
      if (state.prefetched.length > 5) state.prefetched.shift();
    });
  }

  // The labeling page swaps items in place and says which one it shows (tweezers:item-shown);
  // a server-rendered panel carries the id in data-item-id.
  function itemChanged(shownId) {
    const p = panel();
    const id = shownId != null ? String(shownId) : p && p.dataset.itemId;
    if (!id || !image()) { hide(); state.itemId = null; return; }
    if (id === state.itemId && state.info) { show(); return; }
    state.itemId = id;
    state.custom = null;
    infoFor(id).then(function (info) {
      if (state.itemId !== id) return;
      if (!info) { hide(); return; }
      state.info = info;
      state.frame = Math.floor(info.frames / 2);
      viewer().hidden = false;
      show();
      prefetchNext();
    }, hide);
  }

  function setPreset(name) {
    if (!state.info || (state.info.color && name !== "own")) return;
    state.preset = name;
    state.custom = null;
    show();
  }

  function stepFrame(step) {
    if (!state.info || state.info.frames < 2) return;
    const next = Math.min(Math.max(state.frame + step, 0), state.info.frames - 1);
    if (next === state.frame) return;
    state.frame = next;
    show();
  }

  function adjust(levelDelta, widthFactor) {
    if (!state.info || state.info.color) return;
    const win = currentWindow() || [128, 256];
    state.custom = [win[0] + levelDelta, Math.max(1, win[1] * widthFactor)];
    show();
  }

  document.addEventListener("click", function (event) {
    if (!viewer() || !event.target.closest("#dicom-viewer")) return;
    const preset = event.target.closest("[data-preset]");
    if (preset) { setPreset(preset.dataset.preset); return; }
    if (event.target.closest("[data-invert]")) { state.invert = !state.invert; show(); return; }
    const step = event.target.closest("[data-frame-step]");
    if (step) stepFrame(Number(step.dataset.frameStep));
  });

  // Capture phase on window: runs before the page's own shortcuts, which must not also see
  // a key the viewer used (Shift+I is not the class key "i").
  window.addEventListener("keydown", function (event) {
    if (!state.info || event.target.closest("textarea, input, select")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    let used = true;
    if (event.shiftKey && PRESET_BY_DIGIT[event.code]) setPreset(PRESET_BY_DIGIT[event.code]);
    else if (event.shiftKey && event.code === "KeyI") { state.invert = !state.invert; show(); }
    else if (event.key === "ArrowUp") stepFrame(-1);
    else if (event.key === "ArrowDown") stepFrame(1);
    else if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      const win = currentWindow() || [128, 256];
      adjust((event.key === "ArrowLeft" ? -1 : 1) * Math.max(1, win[1] / 20), 1);
    } else if (event.key === "[") adjust(0, 1 / 1.15);
    else if (event.key === "]") adjust(0, 1.15);
    else used = false;
    if (used) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("wheel", function (event) {
    if (!state.info || state.info.frames < 2 || !event.target.closest("#label-panel .stage")) return;
    event.preventDefault();
    stepFrame(event.deltaY > 0 ? 1 : -1);
  }, { passive: false });

  document.addEventListener("pointerdown", function (event) {
    if (!state.info || state.info.color || event.button !== 0) return;
    const img = event.target.closest("#label-panel .item-image");
    if (!img) return;
    const win = currentWindow() || [128, 256];
    state.drag = { x: event.clientX, y: event.clientY, window: win.slice(), moved: false };
    img.setPointerCapture(event.pointerId);
  });

  document.addEventListener("pointermove", function (event) {
    const drag = state.drag;
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 3) return;
    drag.moved = true;
    // One screen pixel moves the window by 1/200 of its width: fine control on any range.
    const unit = Math.max(drag.window[1] / 200, 0.5);
    const next = [drag.window[0] + dy * unit, Math.max(1, drag.window[1] + dx * unit)];
    if (state.pending) { state.custom = next; return; }
    state.pending = true;
    state.custom = next;
    // At most one new rendition per frame while dragging.
    requestAnimationFrame(function () { state.pending = false; show(); });
  });

  document.addEventListener("pointerup", function () { state.drag = null; });
  document.addEventListener("pointercancel", function () { state.drag = null; });

  document.addEventListener("tweezers:item-shown", function (event) {
    if (viewer()) itemChanged(event.detail && event.detail.item_id);
  });
  document.addEventListener("htmx:afterSwap", function () { if (viewer()) itemChanged(); });
  document.addEventListener("DOMContentLoaded", function () { if (viewer()) itemChanged(); });
})();
