// The kiosk screen. A keyboard-mode scanner types a code and a suffix (Enter, Tab, CR/LF) into
// the hidden, always-focused input; the on-screen keypad is the fallback when a scanner fails.
// Scans made on the kiosk agent's readers, and warnings about readers and doors, arrive by
// polling /kiosk/events about once a second and are shown exactly like the page's own scans.
(() => {
  "use strict";
  const body = document.body;
  const idleSeconds = Number(body.dataset.idleSeconds || 8);
  const zone = body.dataset.timeZone || "Europe/London";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const scanner = $("scan");
  const screens = ["idle", "busy", "result", "keypad"];
  const TITLES = { deposited: "Phone locked away", collected: "Phone collected",
                   choose: "Choose a phone", refused: "Sorry, that did not work" };
  // A refusal names what went wrong; the message below it says what to do.
  const REFUSED = {
    unknown: "Code not recognised", unregistered: "Phone not on the register",
    invalid_imei: "Not a valid IMEI", no_phone: "No phone registered", left: "Badge not active",
    retired: "Phone retired", no_free_locker: "No free locker",
    other_bank: "Phone is at another kiosk", empty: "Nothing scanned",
    unpaired: "Kiosk not set up", offline: "No connection", lock_failed: "Locker did not open",
    scan_time: "Scan not recorded",
  };
  const ICONS = { deposited: "✓", collected: "✓", choose: "?", refused: "!" };
  const REPEAT_MS = 1000; // the same code again within this is the scanner repeating itself
  const RETRY_MS = [400, 1200]; // a scan that could not be sent is retried with the same key
  const POLL_MS = 1000;
  const OFFLINE_AFTER_FAILED_POLLS = 3;
  const OFFLINE = { kind: "offline",
                    message: "No connection to the school server — please see the office" };
  let idleTimer = null, countdownTimer = null, typed = "";
  let lastScan = { code: "", at: 0 };
  let latestRequest = 0;
  let eventsAfter = Number(body.dataset.eventsAfter || 0);
  let failedPolls = 0, shownWarnings = "";

  function show(name) {
    screens.forEach((s) => { $(s).hidden = s !== name; });
  }

  function keepFocus() {
    if (document.activeElement !== scanner) scanner.focus({ preventScroll: true });
  }

  function tick() {
    $("clock").textContent = new Date().toLocaleTimeString("en-GB",
      { timeZone: zone, hour: "2-digit", minute: "2-digit" });
  }

  function stopTimers() {
    clearTimeout(idleTimer); clearInterval(countdownTimer);
  }

  function goIdle() {
    stopTimers();
    typed = ""; $("typed").textContent = "";
    show("idle"); keepFocus();
  }

  function idleAfter(seconds) {
    stopTimers();
    let left = seconds;
    $("countdown").textContent = `(${left})`;
    countdownTimer = setInterval(() => {
      left -= 1; $("countdown").textContent = left > 0 ? `(${left})` : "";
    }, 1000);
    idleTimer = setTimeout(goIdle, seconds * 1000);
  }

  function showResult(data) {
    const outcome = data.outcome in TITLES ? data.outcome : "refused";
    const panel = $("result");
    panel.className = `screen result ${outcome}`;
    $("result-icon").textContent = ICONS[outcome];
    $("result-title").textContent =
      outcome === "refused" ? REFUSED[data.reason] || TITLES.refused : TITLES[outcome];
    $("done-label").textContent = outcome === "choose" ? "Cancel" : "Done";
    $("result-locker").textContent = data.locker != null ? `Locker ${data.locker}` : "";
    $("result-message").textContent = data.message || "";
    $("result-time").textContent = data.time && outcome !== "refused" && outcome !== "choose"
      ? `${outcome === "deposited" ? "Locked away" : "Collected"} at ${data.time}` : "";
    const choices = $("choices");
    choices.replaceChildren();
    (data.choices || []).forEach((choice) => choices.append(choiceButton(choice)));
    show("result");
    idleAfter(outcome === "choose" ? idleSeconds * 2 : idleSeconds);
    keepFocus();
  }

  // One phone to choose: its name, and where it is now (so a tap there collects it).
  function choiceButton(choice) {
    const button = document.createElement("button");
    button.type = "button";
    const name = document.createElement("span");
    name.className = "choice-name";
    name.textContent = choice.description;
    const where = document.createElement("span");
    where.className = "choice-where";
    where.textContent =
      choice.locker != null ? `Now in locker ${choice.locker}` : "Not in a locker";
    button.append(name, where);
    button.addEventListener("click", () => send(choice.code));
    return button;
  }

  // An idempotency key per scan: a retry of it never deposits twice. crypto.randomUUID needs
  // a secure context, and kiosks often run on plain http; getRandomValues works everywhere.
  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function isRepeat(code) {
    const now = Date.now();
    const same = code.replace(/\s+/g, "").toUpperCase();
    const repeat = same === lastScan.code && now - lastScan.at < REPEAT_MS;
    lastScan = { code: same, at: now };
    return repeat;
  }

  const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  // A scan acts at once, whatever is on screen: it replaces any message or keypad.
  async function send(code) {
    code = code.trim();
    if (!code || isRepeat(code)) return;
    const request = ++latestRequest;
    stopTimers();
    show("busy");
    const answer = await post({ code, key: newKey(), source: "page" });
    if (request === latestRequest) showResult(answer); // else a newer scan has taken over
  }

  async function post(payload) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const response = await fetch(body.dataset.scanUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
          body: JSON.stringify(payload),
        });
        if ((response.headers.get("Content-Type") || "").includes("json")) {
          return await response.json();
        }
        // A 400 that is not ours is a stale CSRF token: a fresh page gets a new one.
        if (response.status === 400) setTimeout(() => location.reload(), 3000);
        if (response.status < 500) break;
      } catch (error) {
        // No answer at all: try again with the same key, so it acts at most once.
      }
      if (attempt >= RETRY_MS.length) break;
      await sleep(RETRY_MS[attempt]);
    }
    return { outcome: "refused", reason: "offline",
             message: "The kiosk could not reach the school server. Please scan again." };
  }

  // --- scans from the kiosk agent, and its warnings -----------------------------------------

  // Whatever arrives last is on screen: an event, or the answer to a scan made here.
  function showEvent(event) {
    if (event.kind === "scan" || event.kind === "lock_failed") showResult(event.data);
    // door_open needs no screen of its own: the warning banner names the door.
  }

  function showWarnings(warnings) {
    const text = warnings.map((w) => w.message).join("\n");
    if (text === shownWarnings) return; // unchanged: do not announce it again
    shownWarnings = text;
    const banner = $("warnings");
    banner.replaceChildren(...warnings.map((warning) => {
      const line = document.createElement("p");
      line.className = `warning ${warning.kind}`;
      const icon = document.createElement("span");
      icon.className = "warning-icon";
      icon.setAttribute("aria-hidden", "true");
      icon.textContent = "!";
      const words = document.createElement("span");
      words.className = "warning-text";
      words.textContent = warning.message;
      line.append(icon, words);
      return line;
    }));
    banner.hidden = warnings.length === 0;
  }

  async function poll() {
    try {
      const response = await fetch(`${body.dataset.eventsUrl}?after=${eventsAfter}`,
                                   { cache: "no-store" });
      if (response.status === 401) { location.reload(); return; } // unpaired: say so
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      failedPolls = 0;
      data.events.forEach(showEvent);
      eventsAfter = data.after;
      showWarnings(data.status.warnings);
    } catch (error) {
      failedPolls += 1;
      if (failedPolls >= OFFLINE_AFTER_FAILED_POLLS) showWarnings([OFFLINE]);
    }
    setTimeout(poll, POLL_MS);
  }

  // --- the scanner ---------------------------------------------------------------------------

  function takeScannerCode() {
    const code = scanner.value;
    scanner.value = "";
    send(code);
  }

  // Enter, Tab, or CR/LF sent as Ctrl+M / Ctrl+J, ends a code.
  const isSuffix = (event) => event.key === "Enter" || event.key === "Tab"
    || (event.ctrlKey && (event.key === "m" || event.key === "j"));

  scanner.addEventListener("keydown", (event) => {
    if (isSuffix(event)) {
      event.preventDefault();
      takeScannerCode();
    }
  });
  // A suffix that arrives as a character (a tab or line break inserted as text).
  scanner.addEventListener("input", () => {
    const parts = scanner.value.split(/[\t\r\n]/);
    if (parts.length === 1) return;
    scanner.value = parts.pop();
    parts.forEach(send);
  });
  // Typing that lands elsewhere (a button kept focus) belongs to the scanner.
  document.addEventListener("keydown", (event) => {
    if (event.target === scanner || event.key.length !== 1 || event.ctrlKey || event.altKey) {
      return;
    }
    event.preventDefault();
    scanner.value += event.key;
    keepFocus();
  });
  document.addEventListener("click", () => setTimeout(keepFocus, 0));
  setInterval(keepFocus, 500);

  // On-screen keypad: digits and the letters used on phone labels.
  const KEYS = "1234567890ABCDEFGHJKMNPQRSTVWXYZ";
  KEYS.split("").forEach((key) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = key;
    button.addEventListener("click", () => { typed += key; $("typed").textContent = typed; });
    $("keys").insertBefore(button, $("key-cancel"));
  });
  $("open-keypad").addEventListener("click", () => { show("keypad"); idleAfter(60); });
  $("key-cancel").addEventListener("click", goIdle);
  $("key-delete").addEventListener("click", () => {
    typed = typed.slice(0, -1); $("typed").textContent = typed;
  });
  $("key-enter").addEventListener("click", () => { const code = typed; typed = ""; send(code); });
  $("done").addEventListener("click", goIdle);
  document.querySelectorAll(".demo-code").forEach((button) =>
    button.addEventListener("click", () => send(button.dataset.code)));

  tick(); setInterval(tick, 10000);
  goIdle();
  poll();
})();
