// The DICOM viewer on the labeling page: window presets, window drag and keys, invert, and
// frame navigation by keys or wheel. The server renders every view (the browser never decodes
// DICOM); this script only changes the item image's URL. It keeps to itself: it finds the
// labeling panel's image by class, and claims its own keys before the page's shortcuts see them.
// A scan item (a series or a study) scrolls through its slices instead of frames: wheel, ↑/↓,
// PageUp/PageDown, Home/End and the slice scrollbar; its series switch by Shift+←/→; Shift+E
// goes to the model's next evidence slice. Slices next to the shown one are fetched ahead,
// nearest first, so a slice change shows from the browser's cache.
(function () {
  "use strict";

  const PRESET_BY_DIGIT = { Digit1: "own", Digit2: "soft_tissue", Digit3: "lung", Digit4: "bone", Digit5: "brain" };
  const state = {
    itemId: null, info: null, frame: 0, preset: "own", custom: null, invert: false,
    loads: 0, drag: null, infos: new Map(), prefetched: [],
    series: 0, slices: new Map(), sliceTimings: [], evidenceAt: -1,
  };
  const PREFETCH_RADIUS = 12;
  const SLICE_CACHE = 120;
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
    if (state.info.scan) return false;
    return state.preset === "own" && !state.custom && !state.invert &&
      state.frame === Math.floor(state.info.frames / 2);
  }

  function renderUrl(info, frame) {
    info = info || state.info;
    const at = String(frame === undefined ? state.frame : frame);
    const params = info.scan
      ? new URLSearchParams({ series: String(info === state.info ? state.series : 0), index: at })
      : new URLSearchParams({ frame: at });
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
    bar.querySelector(".dicom-frame").textContent = (state.info.scan ? bar.dataset.sliceText : bar.dataset.frameText)
      .replace("{n}", state.frame + 1).replace("{total}", state.info.frames);
    describeScan(bar);
    bar.querySelectorAll("[data-preset]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(!state.custom && button.dataset.preset === state.preset));
      button.disabled = state.info.color && button.dataset.preset !== "own";
    });
    bar.querySelector("[data-invert]").setAttribute("aria-pressed", String(state.invert));
  }

  function describeScan(bar) {
    const nav = bar.querySelector("[data-scan-nav]");
    if (!nav) return;
    nav.hidden = !state.info.scan;
    if (!state.info.scan) return;
    const series = state.info.series[state.series];
    const slider = nav.querySelector("[data-scan-slider]");
    // A one-slice series has nothing to scroll: no slider to drag.
    nav.querySelector(".scan-track").hidden = state.info.frames < 2;
    slider.max = String(state.info.frames - 1);
    slider.value = String(state.frame);
    slider.setAttribute("aria-valuetext", bar.querySelector(".dicom-frame").textContent);
    const select = nav.querySelector("[data-scan-series]");
    if (select.dataset.itemId !== String(state.info.item_id)) {
      select.dataset.itemId = String(state.info.item_id);
      select.replaceChildren(...state.info.series.map(function (one, index) {
        const option = document.createElement("option");
        option.value = String(index);
        option.textContent = one.description + " (" + one.slices + ")";
        return option;
      }));
    }
    select.value = String(state.series);
    select.closest("label").hidden = state.info.series.length < 2;
    const marks = nav.querySelector("[data-scan-marks]");
    marks.replaceChildren(...series.evidence.map(function (index) {
      const mark = document.createElement("span");
      mark.dataset.slice = String(index);
      mark.title = bar.dataset.evidenceText + " " + (index + 1);
      mark.style.left = (state.info.frames > 1 ? (100 * index) / (state.info.frames - 1) : 0) + "%";
      return mark;
    }));
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
    const url = renderUrl();
    if (!state.info.scan) { img.src = url; return; }
    img.dataset.dicomSeries = String(state.series);
    // Timed from the change to the decoded image on screen: the done-when measure of a
    // slice change (median under 50 ms once cached), read by the browser test.
    const cached = state.slices.has(url) && state.slices.get(url).ready;
    const started = performance.now();
    img.src = url;
    img.decode().then(function () {
      if (img.src.endsWith(url)) {
        state.sliceTimings.push({ ms: performance.now() - started, cached: cached, url: url });
      }
    }, function () {});
    prefetchSlices();
  }

  // The slices around the shown one, nearest first, a few requests at a time; each kept
  // decoded so that showing it is a cache hit.
  function prefetchSlices() {
    const wanted = [];
    for (let step = 1; step <= PREFETCH_RADIUS; step += 1) {
      [state.frame + step, state.frame - step].forEach(function (index) {
        if (index >= 0 && index < state.info.frames) wanted.push(renderUrl(state.info, index));
      });
    }
    let inFlight = 0;
    state.slices.forEach(function (entry) { if (!entry.ready) inFlight += 1; });
    wanted.forEach(function (url) {
      if (state.slices.has(url) || inFlight >= 4) return;
      inFlight += 1;
      const warm = new Image();
      const entry = { image: warm, ready: false };
      state.slices.set(url, entry);
      warm.src = url;
      warm.decode().then(function () {
        entry.ready = true;
        if (state.info && state.info.scan) prefetchSlices();
      }, function () { state.slices.delete(url); });
    });
    while (state.slices.size > SLICE_CACHE) state.slices.delete(state.slices.keys().next().value);
  }

  function hide() {
    const bar = viewer();
    if (bar) bar.hidden = true;
    state.info = null;
  }

  function infoFor(id) {
    if (state.infos.has(id)) return state.infos.get(id);
    const template = viewer().dataset.scanUrl || viewer().dataset.infoUrl;
    const url = template.replace("/0/", "/" + encodeURIComponent(id) + "/");
    const pending = fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (info) {
        if (info && info.scan) info.frames = info.series[0].slices;
        return info;
      })
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
    // A scan never shows its stored image: its first slice is always a rendition.
    const stored = !viewer().dataset.scanUrl && state.preset === "own" && !state.invert;
    if (!match || stored) return;
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
      state.series = 0;
      state.evidenceAt = -1;
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

  function goToSlice(index) {
    if (!state.info) return;
    const next = Math.min(Math.max(index, 0), state.info.frames - 1);
    if (next === state.frame) return;
    state.frame = next;
    show();
  }

  function switchSeries(step) {
    if (!state.info || !state.info.scan) return;
    const count = state.info.series.length;
    const next = Math.min(Math.max(state.series + step, 0), count - 1);
    if (next === state.series) return;
    state.series = next;
    state.evidenceAt = -1;
    state.info.frames = state.info.series[next].slices;
    state.frame = Math.floor(state.info.frames / 2);
    show();
  }

  // Shift+E: the next of the model's evidence slices (most telling first), round again.
  function nextEvidence() {
    if (!state.info || !state.info.scan) return;
    const evidence = state.info.series[state.series].evidence;
    if (!evidence.length) return;
    state.evidenceAt = (state.evidenceAt + 1) % evidence.length;
    state.frame = -1;
    goToSlice(evidence[state.evidenceAt]);
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

  document.addEventListener("input", function (event) {
    if (event.target.matches("#dicom-viewer [data-scan-slider]")) goToSlice(Number(event.target.value));
  });

  document.addEventListener("change", function (event) {
    // The keys belong to labeling again once a control was used.
    if (event.target.matches("#dicom-viewer [data-scan-slider]")) { event.target.blur(); return; }
    if (!event.target.matches("#dicom-viewer [data-scan-series]")) return;
    switchSeries(Number(event.target.value) - state.series);
    event.target.blur();
  });

  // Capture phase on window: runs before the page's own shortcuts, which must not also see
  // a key the viewer used (Shift+I is not the class key "i").
  window.addEventListener("keydown", function (event) {
    if (!state.info || event.target.closest("textarea, input, select")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    let used = true;
    const scan = state.info.scan;
    const page = Math.max(5, Math.round(state.info.frames / 10));
    if (event.shiftKey && PRESET_BY_DIGIT[event.code]) setPreset(PRESET_BY_DIGIT[event.code]);
    else if (scan && event.shiftKey && event.key === "ArrowLeft") switchSeries(-1);
    else if (scan && event.shiftKey && event.key === "ArrowRight") switchSeries(1);
    else if (scan && event.shiftKey && event.code === "KeyE") nextEvidence();
    else if (scan && event.key === "PageUp") goToSlice(state.frame - page);
    else if (scan && event.key === "PageDown") goToSlice(state.frame + page);
    else if (scan && event.key === "Home") goToSlice(0);
    else if (scan && event.key === "End") goToSlice(state.info.frames - 1);
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
