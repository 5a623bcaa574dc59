// The labeling page. It holds the current item and the next ones (leased to this annotator,
// images already decoded), so a key press shows the next item at once; answers go to an
// outbox kept in localStorage and are sent in the background, one at a time and in order,
// each with its client_key (a retry is the same answer), retried while the server is away.
// A reload keeps the page's view too: the item on screen, the next ones in their order.
// Each tab of the page is a tab of its own to the server (setup.tab, sent with every request):
// two tabs of one annotator hold different items, and each keeps its own outbox and view.
// window.tweezersLabel exposes the key-press → next-item timings (ms) the browser tests read.
(function () {
  "use strict";

  const gettext = window.gettext || ((s) => s);
  const interpolate = window.interpolate || function (format, values) {
    return format.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
  };
  const ZOOM_STEPS = [1, 1.5, 2, 3, 4, 6, 8];
  // A double click must not answer the next item too: mouse clicks on a freshly shown item
  // are ignored this long (keyboard answers are not: they cannot bounce).
  const MOUSE_GUARD_MS = 350;
  const RETRY_MAX_MS = 8000;
  const STRIP_LENGTH = 10;
  // The last acknowledged answers and skips a reload hides (see store()): far more than can
  // be acknowledged while one reload is on its way.
  const ACKNOWLEDGED_KEPT = 20;
  // Another tab's outbox that has not been written for this long belongs to a tab that is gone
  // without saying so (a crash): the next page to start sends it. A live tab with answers
  // waiting rewrites its outbox every 10 s.
  const ORPHANED_AFTER_MS = 60000;

  const setupNode = document.getElementById("label-setup");
  if (!setupNode) return;
  const setup = JSON.parse(setupNode.textContent);
  const outboxPrefix = "tweezers.outbox." + setup.user + "." + setup.project;
  const viewPrefix = "tweezers.view." + setup.user + "." + setup.project;
  let storeKey = outboxPrefix + "." + setup.tab;
  let viewKey = viewPrefix + "." + setup.tab;
  const $ = (id) => document.getElementById(id);
  // A findings project (multi-label): every finding's key cycles absent → present →
  // uncertain (Shift+key: uncertain), Enter sends the answer, one key answers "no finding".
  const findingsMode = setup.task === "findings";
  const STATE_NAMES = { present: gettext("present"), uncertain: gettext("uncertain"), absent: gettext("absent") };

  const state = {
    queue: [],           // held items, queue[0] is on screen
    outbox: [],          // answers, skips and undos not yet acknowledged, oldest first
    inFlight: null,      // the outbox entry being sent
    answered: new Set(), // items answered or skipped here: never shown again unless undone
    acknowledged: [],    // of those, the last ones the server acknowledged to this page
    strip: [],           // the last answers, oldest first
    skipped: setup.skipped.slice(),
    images: new Map(),   // item id → a decoded <img>, ready to put on the stage
    serverState: setup.state,
    message: setup.message,
    progress: setup.progress,
    zoomIndex: 0,
    shownAt: performance.now(),
    keyAt: null,
    timings: [],
    failures: 0,
    pollTimer: null,
    changing: null,
    findings: {},        // findings mode: the item on screen's states, name → present/uncertain
    changeFindings: {},  // findings mode: the states of the answer being changed
    tab: setup.tab,      // this tab's id: its leases, its outbox
  };
  window.tweezersLabel = state;

  // --- the outbox, kept in the browser until the server acknowledges each entry, and the view
  // The server lists the items an annotator holds by queue rank, but a top-up can lease an
  // entry ranked before those held (a requeue, a new round, a lease that ran out elsewhere),
  // which the page puts last, where it arrived: a reload takes the page's own order, so the
  // item on screen stays on screen. And an answer this page saw acknowledged while the reload
  // was on its way is out of the outbox, yet the server may have listed its item as held a
  // moment before: the reloaded page hides it. Only this page's acknowledgements are kept, so
  // a stale list hides nothing beyond the next reload.
  // ``closed``: the page is going away (a reload loads it again as its own; a tab closed for
  // good leaves it for the next page to send).
  function store(closed) {
    try {
      localStorage.setItem(storeKey, JSON.stringify({
        at: Date.now(),
        closed: closed === true,
        entries: state.outbox,
      }));
      localStorage.setItem(viewKey, JSON.stringify({
        queue: state.queue.map((item) => item.item_id),
        acknowledged: state.acknowledged,
      }));
    } catch (error) {
      // Storage full or disabled: answers still go out, they just would not survive a reload.
    }
  }

  function outboxEntries(record) {
    if (Array.isArray(record)) return record; // written before tabs had outboxes of their own
    return record && Array.isArray(record.entries) ? record.entries : [];
  }

  function loadOutbox() {
    try {
      return outboxEntries(JSON.parse(localStorage.getItem(storeKey) || "[]"));
    } catch (error) {
      return [];
    }
  }

  // The answers of this annotator's tabs that closed (or crashed) before the server had them:
  // this page sends them (each with its client_key, so a second sending stores nothing more).
  // A live tab's outbox is its own.
  function adoptOrphanedOutboxes() {
    const adopted = [];
    try {
      const keys = [];
      for (let index = 0; index < localStorage.length; index += 1) keys.push(localStorage.key(index));
      for (const key of keys) {
        if (key === storeKey || !(key === outboxPrefix || key.startsWith(outboxPrefix + "."))) continue;
        let record = null;
        try {
          record = JSON.parse(localStorage.getItem(key));
        } catch (error) { /* unreadable: dropped below */ }
        const live = record && !Array.isArray(record) && !record.closed && Date.now() - (record.at || 0) < ORPHANED_AFTER_MS;
        if (live) continue;
        adopted.push(...outboxEntries(record));
        localStorage.removeItem(key);
        localStorage.removeItem(viewPrefix + key.slice(outboxPrefix.length));
      }
    } catch (error) {
      // Storage disabled: nothing was kept to adopt.
    }
    return adopted;
  }

  // --- the tab -----------------------------------------------------------------------------
  // A page about to unload leaves its tab id for the page that loads next in this browser (a
  // reload, or a return within the hold), which then holds this page's items; the server
  // takes the cookie away once a page has taken it over.
  const tabCookiePath = window.location.pathname;

  function handOverTab() {
    document.cookie = setup.tab_cookie + "=" + state.tab + "; path=" + tabCookiePath +
      "; max-age=" + setup.tab_handover_seconds + "; samesite=lax";
  }

  function handedOverTab() {
    const found = document.cookie.split("; ").find((part) => part.startsWith(setup.tab_cookie + "="));
    return found ? found.slice(setup.tab_cookie.length + 1) : null;
  }

  // Back from the browser's page cache: if no page took this tab over meanwhile, take the
  // cookie back; if one did, it holds this tab's items (and sends its outbox) now, and this
  // page goes on as a new tab with items of its own.
  function resumeTab() {
    if (handedOverTab() === state.tab) {
      document.cookie = setup.tab_cookie + "=; path=" + tabCookiePath + "; max-age=0; samesite=lax";
      return;
    }
    state.tab = newKey().slice(0, 32);
    storeKey = outboxPrefix + "." + state.tab;
    viewKey = viewPrefix + "." + state.tab;
    state.outbox = [];
    state.queue = [];
    show();
    poll();
  }

  function loadView() {
    try {
      const view = JSON.parse(localStorage.getItem(viewKey) || "{}");
      return {
        queue: Array.isArray(view.queue) ? view.queue : [],
        acknowledged: Array.isArray(view.acknowledged) ? view.acknowledged : [],
      };
    } catch (error) {
      return { queue: [], acknowledged: [] };
    }
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    return Date.now().toString(16) + Math.random().toString(16).slice(2);
  }

  // --- items ---------------------------------------------------------------------------
  function prefetch(item) {
    if (!item.image_url || state.images.has(item.item_id)) return;
    const image = new Image();
    image.className = "item-image" + (item.pixelated ? " pixelated" : "");
    image.alt = interpolate(gettext("Item %(item)s"), { item: item.item_id }, true);
    image.draggable = false;
    image.src = item.image_url;
    image.decode().catch(() => {});
    state.images.set(item.item_id, image);
  }

  function mergeItems(items) {
    const known = new Set(state.queue.map((item) => item.item_id));
    for (const item of items || []) {
      if (known.has(item.item_id) || state.answered.has(item.item_id)) continue;
      state.queue.push(item);
      known.add(item.item_id);
    }
    state.queue.forEach(prefetch);
    // Forget decoded images of items no longer held.
    for (const id of state.images.keys()) {
      if (!known.has(id)) state.images.delete(id);
    }
  }

  // The items in the page's order where it had them; the others after, in the server's.
  function inPageOrder(items, order) {
    const position = new Map(order.map((itemId, index) => [itemId, index]));
    const place = (item) => (position.has(item.item_id) ? position.get(item.item_id) : order.length);
    return (items || []).slice().sort((a, b) => place(a) - place(b));
  }

  function frontItem(item) {
    state.queue = state.queue.filter((held) => held.item_id !== item.item_id);
    state.queue.unshift(item);
    state.answered.delete(item.item_id);
    prefetch(item);
  }

  // --- drawing -------------------------------------------------------------------------
  function show() {
    const panel = $("label-panel");
    const item = state.queue[0];
    const ready = Boolean(item);
    $("label-ready").hidden = !ready;
    $("label-state").hidden = ready;
    if (ready) {
      panel.dataset.state = "ready";
      if (panel.dataset.itemId !== String(item.item_id)) drawItem(item);
    } else {
      panel.dataset.itemId = "";
      drawState();
    }
    drawProgress();
    drawOutbox();
  }

  function drawItem(item) {
    const panel = $("label-panel");
    panel.dataset.itemId = String(item.item_id);
    $("label-item-name").textContent = interpolate(gettext("Item %(item)s"), { item: item.item_id }, true);
    const stage = $("label-stage");
    const text = $("label-text");
    const zoomControls = panel.querySelector(".zoom-controls");
    if (item.image_url) {
      prefetch(item);
      const image = state.images.get(item.item_id);
      image.style.width = image.style.height = "";
      stage.replaceChildren(image);
      stage.hidden = false;
      text.hidden = true;
      zoomControls.hidden = false;
    } else {
      text.textContent = item.text;
      text.hidden = false;
      stage.hidden = true;
      zoomControls.hidden = true;
    }
    const guess = $("label-guess");
    guess.hidden = !item.guess;
    if (item.guess) {
      guess.querySelector(".guess-label").textContent = item.guess.label;
      guess.querySelector(".guess-confidence").textContent = item.guess.confidence == null ? "" :
        interpolate(gettext("· %(percent)s%% sure"), { percent: Math.round(100 * item.guess.confidence) }, true);
    }
    const suggestion = $("label-suggestion");
    suggestion.hidden = !item.suggestion;
    if (item.suggestion) {
      suggestion.querySelector(".suggestion-label").textContent = item.suggestion.label;
      suggestion.querySelector(".suggestion-score").textContent = item.suggestion.score == null ? "" :
        interpolate(gettext("· %(percent)s%% sure"), { percent: Math.round(100 * item.suggestion.score) }, true);
    }
    $("label-unsure").checked = false;
    $("label-note").value = "";
    state.findings = {};
    drawFindings("#label-ready [data-finding]", state.findings);
    state.zoomIndex = 0; // every item starts fitted to the frame
    applyZoom();
    state.shownAt = performance.now();
    document.dispatchEvent(new CustomEvent("tweezers:item-shown", { detail: item }));
    recordTiming();
  }

  function recordTiming() {
    const keyAt = state.keyAt;
    state.keyAt = null;
    if (keyAt === null) return;
    // The next frame is the one that paints the new item.
    requestAnimationFrame(() => state.timings.push(performance.now() - keyAt));
  }

  const STATE_TITLES = {
    updating: gettext("The model is choosing the first items"),
    loading: gettext("Loading the next item…"),
    budget_spent: gettext("Budget spent"),
    daily_cap: gettext("Done for today"),
    done: gettext("All done"),
  };

  function drawState() {
    const panel = $("label-panel");
    let shown = state.serverState;
    if (state.serverState === "ready" || state.inFlight || state.outbox.length) shown = "loading";
    panel.dataset.state = shown;
    $("label-state-title").textContent = STATE_TITLES[shown] || "";
    $("label-state-message").textContent = shown === "loading" ? "" : state.message;
    const waiting = shown === "updating" || shown === "loading";
    $("label-state").querySelector(".spinner").hidden = !waiting;
    $("label-state-refresh").hidden = shown !== "updating";
    // A pending key press keeps its start time: its timing ends when the next item shows.
  }

  function progressRow(label, value, max) {
    const row = document.createElement("div");
    row.className = "progress-label";
    const name = document.createElement("span");
    name.textContent = label;
    const figure = document.createElement("span");
    figure.className = "num";
    figure.textContent = value;
    row.append(name, figure);
    const nodes = [row];
    if (max) {
      const bar = document.createElement("progress");
      bar.max = max.of;
      bar.value = Math.min(max.value, max.of);
      nodes.push(bar);
    }
    return nodes;
  }

  function drawProgress() {
    const p = state.progress;
    const pending = state.outbox.filter((entry) => entry.op === "answer").length;
    const today = p.today + pending;
    const nodes = [];
    if (p.daily_cap) {
      nodes.push(...progressRow(gettext("Today"),
        interpolate(gettext("%(done)s of %(cap)s"), { done: today, cap: p.daily_cap }, true),
        { value: today, of: p.daily_cap }));
    } else {
      nodes.push(...progressRow(gettext("Today"),
        interpolate(gettext("%(done)s labels"), { done: today }, true)));
    }
    const spent = p.spent + pending;
    if (p.budget) {
      nodes.push(...progressRow(gettext("Project budget"),
        interpolate(gettext("%(spent)s of %(budget)s labels"), { spent: spent, budget: p.budget }, true),
        { value: spent, of: p.budget }));
    } else {
      nodes.push(...progressRow(gettext("Project"),
        interpolate(gettext("%(labeled)s of %(items)s items labeled"), { labeled: p.labeled, items: p.items }, true),
        { value: p.labeled, of: Math.max(p.items, 1) }));
    }
    if (p.target_value != null) {
      const reached = p.metric_value == null ? gettext("no model yet") :
        interpolate(gettext("now %(value)s%%"), { value: Math.round(100 * p.metric_value) }, true);
      nodes.push(...progressRow(
        interpolate(gettext("Target %(metric)s %(target)s%%"), { metric: p.target_metric, target: Math.round(100 * p.target_value) }, true),
        reached,
        p.metric_value == null ? null : { value: p.metric_value, of: p.target_value }));
    }
    $("label-progress").replaceChildren(...nodes);
  }

  function drawOutbox() {
    const waiting = state.outbox.filter((entry) => entry.op !== "undo").length;
    const status = $("label-outbox");
    if (!waiting) status.textContent = "";
    else if (state.failures >= 2) {
      status.textContent = interpolate(gettext("%(n)s answers kept in this browser, waiting for the server"), { n: waiting }, true);
    } else status.textContent = interpolate(gettext("saving %(n)s…"), { n: waiting }, true);
    drawStrip();
    drawSkipped();
  }

  function drawStrip() {
    const strip = $("label-strip");
    const nodes = state.strip.slice(-STRIP_LENGTH).map((answer) => {
      const entry = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "answer-chip small" + (answer.pending ? " pending" : "") + (answer.failed ? " failed" : "");
      button.dataset.answerKey = answer.key;
      button.textContent = "#" + answer.item_id + " " + answer.label + (answer.unsure ? " ⚑" : "");
      button.title = answer.failed ? gettext("Not saved") : answer.pending ? gettext("Being saved") : gettext("Saved; click to change");
      entry.append(button);
      return entry;
    });
    strip.replaceChildren(...nodes);
  }

  function drawSkipped() {
    $("label-skipped-count").textContent = String(state.skipped.length);
    const nodes = state.skipped.map((itemId) => {
      const entry = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "small";
      button.dataset.unskip = String(itemId);
      button.textContent = interpolate(gettext("Item %(item)s: label it now"), { item: itemId }, true);
      entry.append(button);
      return entry;
    });
    $("label-skipped-items").replaceChildren(...nodes);
  }

  function banner(kind, text) {
    const node = document.createElement("div");
    node.className = "banner " + kind;
    node.setAttribute("role", kind === "bad" ? "alert" : "status");
    node.textContent = text;
    const banners = $("label-banners");
    banners.append(node);
    while (banners.children.length > 3) banners.firstChild.remove();
    if (kind !== "bad") setTimeout(() => node.remove(), 6000);
  }

  function notice(text) {
    $("label-saved").textContent = text;
  }

  // --- findings ---------------------------------------------------------------------------
  function findingsSummary(findings) {
    const parts = setup.findings
      .filter((finding) => findings[finding.name])
      .map((finding) => finding.name + (findings[finding.name] === "uncertain" ? "?" : ""));
    return parts.length ? parts.join(", ") : gettext("no finding");
  }

  function drawFindings(selector, findings) {
    for (const button of document.querySelectorAll(selector)) {
      const given = findings[button.dataset.finding || button.dataset.changeFinding] || "absent";
      button.dataset.state = given;
      button.setAttribute("aria-pressed", given === "absent" ? "false" : given === "present" ? "true" : "mixed");
      // A mark, not a word: the finding's name keeps the room on a phone.
      const said = button.querySelector(".finding-state");
      if (said) said.textContent = { absent: "", present: "✓", uncertain: "?" }[given];
      button.title = (button.dataset.finding || button.dataset.changeFinding) + ": " + STATE_NAMES[given];
    }
  }

  // absent → present → uncertain → absent; "uncertain" (Shift) toggles uncertain directly.
  function cycle(findings, name, uncertain) {
    const now = findings[name] || "absent";
    const next = uncertain ? (now === "uncertain" ? "absent" : "uncertain")
      : { absent: "present", present: "uncertain", uncertain: "absent" }[now];
    if (next === "absent") delete findings[name];
    else findings[name] = next;
  }

  function toggleFinding(name, uncertain) {
    cycle(state.findings, name, uncertain);
    drawFindings("#label-ready [data-finding]", state.findings);
  }

  function submitFindings(findings) {
    answer(findingsSummary(findings), Object.assign({}, findings));
  }

  // Shift+1 types "!": the key is read from the physical key instead.
  function findingKey(event) {
    const code = /^(?:Digit|Numpad)(\d)$/.exec(event.code || "") || /^Key([A-Z])$/.exec(event.code || "");
    return event.shiftKey && code ? code[1].toLowerCase() : event.key.toLowerCase();
  }

  function findingsKeydown(event) {
    if (event.key === "Enter") {
      event.preventDefault();
      state.keyAt = performance.now();
      submitFindings(state.findings);
      return true;
    }
    const key = findingKey(event);
    if (key === setup.no_finding_key && !event.shiftKey) {
      event.preventDefault();
      state.keyAt = performance.now();
      submitFindings({});
      return true;
    }
    const finding = setup.findings.find((one) => one.key && one.key === key);
    if (!finding) return false;
    event.preventDefault();
    toggleFinding(finding.name, event.shiftKey);
    return true;
  }

  // --- actions ---------------------------------------------------------------------------
  // The suggestion is accepted as the annotator's own answer: one key, the same submit.
  function acceptSuggestion() {
    const item = state.queue[0];
    if (!item || !item.suggestion) return;
    state.keyAt = performance.now();
    answer(item.suggestion.label);
  }

  function answer(label, findings) {
    const item = state.queue.shift();
    if (!item) return;
    const entry = {
      op: "answer",
      key: newKey(),
      item_id: item.item_id,
      label: label,
      findings: findings,
      unsure: $("label-unsure").checked,
      note: $("label-note").value,
      seconds: ((performance.now() - state.shownAt) / 1000).toFixed(2),
      item: item,
    };
    state.answered.add(item.item_id);
    state.strip.push({ key: entry.key, item_id: item.item_id, label: label, findings: findings, unsure: entry.unsure, pending: true });
    if (state.strip.length > 50) state.strip.shift();
    enqueue(entry);
    notice(interpolate(gettext("✓ Item %(item)s → %(label)s"), { item: item.item_id, label: label }, true));
    showWhy(item);
    show();
  }

  function skip() {
    const item = state.queue.shift();
    if (!item) return;
    state.answered.add(item.item_id);
    enqueue({ op: "skip", key: newKey(), item_id: item.item_id, item: item });
    notice(interpolate(gettext("Skipped item %(item)s"), { item: item.item_id }, true));
    show();
  }

  function showWhy(item) {
    const why = $("label-why");
    why.hidden = !$("label-why-toggle").checked;
    why.textContent = interpolate(gettext("Item %(item)s was asked because: %(why)s"), { item: item.item_id, why: item.why }, true);
  }

  function undo() {
    const last = state.outbox[state.outbox.length - 1];
    if (last && last !== state.inFlight && (last.op === "answer" || last.op === "skip")) {
      // Not sent yet: take it back here; the item is still leased to us.
      state.outbox.pop();
      frontItem(last.item);
      store();
      state.strip = state.strip.filter((answer) => answer.key !== last.key);
      if (last.findings) restoreFindings(last.item_id, last.findings);
      notice(last.op === "answer"
        ? interpolate(gettext("Took back your label “%(label)s” for item %(item)s."), { label: last.label, item: last.item_id }, true)
        : interpolate(gettext("Brought back item %(item)s, which you skipped."), { item: last.item_id }, true));
      show();
      return;
    }
    enqueue({ op: "undo", key: newKey() });
    notice(gettext("Taking back your last answer…"));
  }

  // An undone findings answer comes back with the states it had, to be fixed, not redone.
  function restoreFindings(itemId, findings) {
    if (!findingsMode) return;
    show();
    if (state.queue[0] && state.queue[0].item_id === itemId) {
      state.findings = Object.assign({}, findings);
      drawFindings("#label-ready [data-finding]", state.findings);
    }
  }

  function unskip(itemId) {
    enqueue({ op: "unskip", key: newKey(), item_id: itemId });
  }

  function enqueue(entry) {
    state.outbox.push(entry);
    // Storing and sending wait for the frame that shows the next item: the key press's
    // critical path is only the drawing.
    requestAnimationFrame(() => setTimeout(() => {
      store();
      pump();
    }, 0));
  }

  // --- sending ---------------------------------------------------------------------------
  function heldAfter(entry) {
    // The server still holds the items of answers queued behind this one: ask for them too.
    const behind = state.outbox.filter((other) => other !== entry && (other.op === "answer" || other.op === "skip")).length;
    return Math.min(setup.hold + behind, 10);
  }

  function formFor(entry) {
    const form = new FormData();
    form.set("hold", String(heldAfter(entry)));
    form.set("tab", state.tab);
    if (entry.op === "answer") {
      form.set("item_id", entry.item_id);
      if (entry.findings) form.set("findings", JSON.stringify(entry.findings));
      else form.set("label", entry.label);
      form.set("client_key", entry.key);
      form.set("seconds_spent", entry.seconds);
      form.set("note", entry.note || "");
      if (entry.unsure) form.set("unsure", "on");
    } else if (entry.op === "skip" || entry.op === "unskip") {
      form.set("item_id", entry.item_id);
    }
    return form;
  }

  async function post(url, form) {
    const response = await fetch(url, {
      method: "POST",
      body: form,
      headers: { "X-CSRFToken": setup.csrf_token, Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.redirected && new URL(response.url).pathname.startsWith("/accounts/login/")) {
      // The session ran out: the outbox stays in this browser and is sent after logging in.
      window.location.assign(response.url);
      throw new Error("login");
    }
    return response;
  }

  async function pump() {
    if (state.inFlight || !state.outbox.length) return;
    const entry = state.outbox[0];
    state.inFlight = entry;
    drawOutbox();
    let response;
    try {
      response = await post(setup.urls[entry.op], formFor(entry));
    } catch (error) {
      state.inFlight = null;
      if (error.message !== "login") retryLater();
      return;
    }
    // The server or the network blipped: try again (a retry is the same answer). A 4xx is
    // the server's considered refusal, reported below.
    if (response.status >= 500 || response.status === 429 || response.status === 408) {
      state.inFlight = null;
      retryLater(response);
      return;
    }
    let body = {};
    try {
      body = await response.json();
    } catch (error) {
      body = { message: response.statusText };
    }
    state.outbox.shift();
    state.inFlight = null;
    if (state.failures) {
      state.failures = 0;
      banner("ok", gettext("Connection is back; your answers are being saved."));
    }
    if (response.ok) acknowledged(entry, body);
    else refused(entry, body);
    store();
    show();
    if (state.outbox.length) pump();
    else if (!state.queue.length && !["done", "budget_spent", "daily_cap"].includes(state.serverState)) poll();
  }

  function retryLater(response) {
    state.failures += 1;
    if (state.failures === 2) {
      banner("warn", gettext("No connection to the server. Your answers are kept in this browser and sent when it is back."));
    }
    drawOutbox();
    const after = response && Number(response.headers.get("Retry-After"));
    const wait = after ? after * 1000 : Math.min(500 * 2 ** (state.failures - 1), RETRY_MAX_MS);
    setTimeout(pump, wait);
  }

  function applyLease(body) {
    if (body.progress) state.progress = body.progress;
    if (body.state) state.serverState = body.state;
    if (body.message !== undefined) state.message = body.message;
    mergeItems(body.items);
  }

  function acknowledged(entry, body) {
    applyLease(body);
    if (entry.op === "answer" || entry.op === "skip") {
      state.acknowledged.push(entry.item_id);
      if (state.acknowledged.length > ACKNOWLEDGED_KEPT) state.acknowledged.shift();
    }
    if (entry.op === "answer") {
      const answer = state.strip.find((one) => one.key === entry.key);
      if (answer) {
        answer.pending = false;
        answer.annotation_id = body.saved.annotation_id;
      }
    } else if (entry.op === "skip") {
      if (!state.skipped.includes(entry.item_id)) state.skipped.unshift(entry.item_id);
    } else if (entry.op === "undo" || entry.op === "unskip") {
      if (body.notice) notice(body.notice);
      if (body.undone) {
        const undone = body.undone;
        state.acknowledged = state.acknowledged.filter((id) => id !== undone.item_id);
        const item = (body.items || []).find((held) => held.item_id === undone.item_id);
        if (item) frontItem(item);
        const strip = state.strip.filter((one) => one.item_id === undone.item_id && !one.pending);
        const took = strip.length ? strip[strip.length - 1] : null;
        if (undone.label && took) state.strip.splice(state.strip.indexOf(took), 1);
        if (undone.label && took && took.findings) restoreFindings(undone.item_id, took.findings);
        state.skipped = state.skipped.filter((id) => id !== undone.item_id);
        notice(undone.message);
      }
    }
  }

  function refused(entry, body) {
    const reason = body.message || "";
    if (entry.op === "answer") {
      const answer = state.strip.find((one) => one.key === entry.key);
      if (answer) {
        answer.pending = false;
        answer.failed = true;
      }
      banner("bad", interpolate(gettext("Your answer “%(label)s” for item %(item)s could not be saved: %(reason)s"),
        { label: entry.label, item: entry.item_id, reason: reason }, true));
    } else if (entry.op === "skip") {
      banner("bad", interpolate(gettext("Skipping item %(item)s could not be saved: %(reason)s"), { item: entry.item_id, reason: reason }, true));
    } else {
      banner("bad", interpolate(gettext("That could not be done: %(reason)s"), { reason: reason }, true));
    }
    if (body.code === "budget_spent" || body.code === "daily_cap") {
      state.serverState = body.code;
      state.message = reason;
      state.queue = [];
    }
  }

  async function poll() {
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
    if (state.queue.length || state.outbox.length) return;
    let response;
    try {
      const form = new FormData();
      form.set("hold", String(setup.hold));
      form.set("tab", state.tab);
      response = await post(setup.urls.lease, form);
    } catch (error) {
      if (error.message !== "login") state.pollTimer = setTimeout(poll, 3000);
      return;
    }
    if (response.ok) {
      applyLease(await response.json());
      store();
      show();
    }
    if (!state.queue.length && (state.serverState === "updating" || !response.ok)) {
      const after = Number(response.headers.get("Retry-After")) || 2;
      state.pollTimer = setTimeout(poll, after * 1000);
    }
  }

  // --- correcting an answer from the strip ------------------------------------------------
  function openChange(key) {
    const answer = state.strip.find((one) => one.key === key);
    if (!answer || answer.failed) return;
    state.changing = answer;
    state.changeFindings = Object.assign({}, answer.findings || {});
    drawFindings("[data-change-finding]", state.changeFindings);
    $("label-change").hidden = false;
    $("label-change-title").textContent = interpolate(gettext("Change item %(item)s (now “%(label)s”) to:"), { item: answer.item_id, label: answer.label }, true);
  }

  async function change(label, findings) {
    const answer = state.changing;
    state.changing = null;
    $("label-change").hidden = true;
    if (!answer || (!findings && label === answer.label)) return;
    const queued = state.outbox.find((entry) => entry.key === answer.key);
    if (queued && queued !== state.inFlight) {
      queued.label = label;
      queued.findings = findings;
      store();
      answer.label = label;
      answer.findings = findings;
      notice(interpolate(gettext("Item %(item)s is now “%(label)s”."), { item: answer.item_id, label: label }, true));
      drawStrip();
      return;
    }
    if (!answer.annotation_id) {
      notice(gettext("That answer is still being saved; change it in a moment."));
      return;
    }
    const form = new FormData();
    form.set("annotation_id", answer.annotation_id);
    form.set("tab", state.tab); // this tab's undo takes the change back
    if (findings) form.set("findings", JSON.stringify(findings));
    else form.set("label", label);
    try {
      const response = await post(setup.urls.correct, form);
      const body = await response.json();
      if (!response.ok) {
        banner("bad", interpolate(gettext("The change could not be saved: %(reason)s"), { reason: body.message }, true));
        return;
      }
      answer.annotation_id = body.annotation_id;
      answer.label = body.label || label;
      answer.findings = findings;
      notice(interpolate(gettext("Item %(item)s is now “%(label)s”."), { item: answer.item_id, label: label }, true));
      drawStrip();
    } catch (error) {
      banner("bad", gettext("No connection to the server: the change was not saved. Try again."));
    }
  }

  // --- zoom and help ---------------------------------------------------------------------
  function applyZoom() {
    const image = $("label-stage").querySelector(".item-image");
    const level = $("label-panel").querySelector(".zoom-level");
    const zoom = ZOOM_STEPS[state.zoomIndex];
    if (level) level.textContent = zoom === 1 ? gettext("Fit") : zoom + "×";
    if (!image) return;
    image.style.width = image.style.height = zoom === 1 ? "" : zoom * 100 + "%";
    // Zoom towards the centre of the item, where the finding usually is.
    const stage = $("label-stage");
    stage.scrollLeft = (stage.scrollWidth - stage.clientWidth) / 2;
    stage.scrollTop = (stage.scrollHeight - stage.clientHeight) / 2;
  }

  function zoom(direction) {
    if (direction === "fit") state.zoomIndex = 0;
    else if (direction === "in") state.zoomIndex = Math.min(state.zoomIndex + 1, ZOOM_STEPS.length - 1);
    else if (direction === "out") state.zoomIndex = Math.max(state.zoomIndex - 1, 0);
    applyZoom();
  }

  function toggleHelp(open) {
    const dialog = $("label-help");
    if (open === undefined) open = !dialog.open;
    if (open && !dialog.open) dialog.showModal();
    else if (!open && dialog.open) dialog.close();
    try {
      localStorage.setItem("tweezers.help-seen." + setup.project, "1");
    } catch (error) { /* private mode */ }
  }

  // --- input -------------------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const zoomButton = target.closest("[data-zoom]");
    if (zoomButton) return zoom(zoomButton.dataset.zoom);
    if (target.closest("[data-help]")) return toggleHelp(true);
    if (target.closest("[data-help-close]")) return toggleHelp(false);
    const chip = target.closest("[data-answer-key]");
    if (chip) return openChange(chip.dataset.answerKey);
    const changeTo = target.closest("[data-change-label]");
    if (changeTo) return change(changeTo.dataset.changeLabel);
    const changeFinding = target.closest("[data-change-finding]");
    if (changeFinding) {
      cycle(state.changeFindings, changeFinding.dataset.changeFinding, event.shiftKey);
      return drawFindings("[data-change-finding]", state.changeFindings);
    }
    if (target.closest("[data-change-save]")) {
      return change(findingsSummary(state.changeFindings), Object.assign({}, state.changeFindings));
    }
    if (target.closest("[data-change-cancel]")) {
      state.changing = null;
      $("label-change").hidden = true;
      return;
    }
    const unskipButton = target.closest("[data-unskip]");
    if (unskipButton) return unskip(Number(unskipButton.dataset.unskip));
    const finding = target.closest("#label-ready [data-finding]");
    if (finding) return toggleFinding(finding.dataset.finding, event.shiftKey);
    if (target.closest("[data-accept-suggestion]")) return acceptSuggestion();
    const action = target.closest("#label-panel [data-label], #label-panel .skip-button, #label-panel [data-undo], #label-panel [data-submit-findings], #label-panel [data-no-finding]");
    if (!action) return;
    if (event.detail > 0 && performance.now() - state.shownAt < MOUSE_GUARD_MS && !action.matches("[data-undo]")) return;
    state.keyAt = performance.now();
    if (action.matches("[data-undo]")) undo();
    else if (action.matches("[data-submit-findings]")) submitFindings(state.findings);
    else if (action.matches("[data-no-finding]")) submitFindings({});
    else if (action.matches(".skip-button")) skip();
    else answer(action.dataset.label);
  });

  document.addEventListener("dblclick", function (event) {
    if (event.target instanceof Element && event.target.closest(".stage")) zoom(state.zoomIndex === 0 ? "in" : "fit");
  });

  document.addEventListener("keydown", function (event) {
    const target = event.target;
    if (target instanceof Element && target.closest("textarea, input:not([type=checkbox]), select")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (event.metaKey || event.altKey || event.repeat) return;
    if (event.key === "?") {
      event.preventDefault();
      return toggleHelp();
    }
    if ($("label-help").open) return; // the dialog handles Esc itself
    const isUndo = (event.ctrlKey && event.key.toLowerCase() === "z") || (!event.ctrlKey && event.key === "Backspace");
    if (isUndo) {
      event.preventDefault();
      state.keyAt = performance.now();
      return undo();
    }
    if (event.ctrlKey) return;
    if (event.key === "+" || event.key === "=") return zoom("in");
    if (event.key === "-" || event.key === "_") return zoom("out");
    if (!state.queue.length) return;
    if (event.key === "Enter" && state.queue[0] && state.queue[0].suggestion) {
      event.preventDefault(); // not also the focused button's click
      return acceptSuggestion();
    }
    const key = event.key === " " ? " " : event.key.toLowerCase();
    if (key === setup.flag_key) {
      event.preventDefault();
      $("label-unsure").checked = !$("label-unsure").checked;
      return;
    }
    if (findingsMode && findingsKeydown(event)) return;
    const button = $("label-panel").querySelector('#label-ready [data-key="' + CSS.escape(key) + '"]');
    if (!button) return;
    event.preventDefault();
    state.keyAt = performance.now();
    if (button.matches(".skip-button")) skip();
    else answer(button.dataset.label);
  });

  $("label-why-toggle").addEventListener("change", function (event) {
    try {
      localStorage.setItem("tweezers.show-why", event.target.checked ? "1" : "");
    } catch (error) { /* private mode */ }
    if (!event.target.checked) $("label-why").hidden = true;
  });

  // --- start -----------------------------------------------------------------------------
  function start() {
    state.outbox = adoptOrphanedOutboxes().concat(loadOutbox()).filter((entry) => entry && setup.urls[entry.op]);
    for (const entry of state.outbox) {
      if (entry.op === "answer" || entry.op === "skip") state.answered.add(entry.item_id);
    }
    state.strip = setup.answers.map((one) => ({ ...one, key: "a" + one.annotation_id, pending: false }));
    for (const entry of state.outbox) {
      if (entry.op === "answer") {
        state.strip.push({ key: entry.key, item_id: entry.item_id, label: entry.label, findings: entry.findings, unsure: entry.unsure, pending: true });
      }
    }
    try {
      $("label-why-toggle").checked = localStorage.getItem("tweezers.show-why") === "1";
      if ($("label-help").querySelector(".guidelines") && !localStorage.getItem("tweezers.help-seen." + setup.project)) {
        toggleHelp(true);
      }
    } catch (error) { /* private mode */ }
    const view = loadView();
    for (const itemId of view.acknowledged) state.answered.add(itemId);
    mergeItems(inPageOrder(setup.items, view.queue));
    // A reload right after a key press comes before that answer's deferred store. Only once
    // the outbox is loaded: before, this would store an empty one over it.
    window.addEventListener("pagehide", () => store(true));
    window.addEventListener("beforeunload", handOverTab);
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) resumeTab();
    });
    if (state.outbox.length) banner("warn", interpolate(gettext("Sending %(n)s answers kept from before the reload…"), { n: state.outbox.length }, true));
    show();
    pump();
    if (!state.queue.length) poll();
    // An answer's response tops the queue up; while it is empty with nothing to send, poll.
    setInterval(function () {
      if (state.outbox.length) store(); // still alive: other tabs leave this outbox alone
      if (!state.queue.length && !state.outbox.length && !state.pollTimer && state.serverState !== "done") poll();
    }, 10000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
