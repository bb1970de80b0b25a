// The kiosk screen. A keyboard-mode scanner types a code and a suffix (Enter, Tab, CR/LF) into
// the hidden, always-focused input; the on-screen keypad is the fallback when a scanner fails.
// Scans made on the kiosk agent's readers, and warnings about readers and doors, arrive by
// polling /kiosk/events about once a second and are shown exactly like the page's own scans.
// "I need my phone today" asks SLT for an exception: a scan that only identifies the person,
// typed here or read by the agent (the page tells the server it is asking, so the agent's next
// scan arrives as an "identified" event instead of depositing), then three touch steps (why, in a few words, until when). The reason is typed on an
// on-screen keyboard; a USB scanner's typing still goes to the hidden input, never into it.
// Each scan says how its code arrived (entry): a keyboard-mode scanner types a whole code in
// well under 100 ms, a person does not, so the time between keys tells them apart. A badge
// number typed by hand or on the keypad only names the person: it acts for nobody.
(() => {
  "use strict";
  const body = document.body;
  const idleSeconds = Number(body.dataset.idleSeconds || 8);
  const zone = body.dataset.timeZone || "Europe/London";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const scanner = $("scan");
  const screens = ["idle", "busy", "result", "keypad", "ask-scan", "ask"];
  const TITLES = { deposited: "Phone locked away", collected: "Phone collected",
                   choose: "Choose a phone", refused: "Sorry, that did not work",
                   on_duty: "On duty with your phone", off_duty: "Signed out",
                   requested: "Request sent", pending: "Already asked",
                   agreed: "Already agreed by SLT" };
  // A refusal names what went wrong; the message below it says what to do.
  const REFUSED = {
    unknown: "Code not recognised", unregistered: "Phone not on the register",
    invalid_imei: "Not a valid IMEI", no_phone: "No phone registered", left: "Badge not active",
    retired: "Phone retired", no_free_locker: "No free locker",
    other_bank: "Phone is at another kiosk", empty: "Nothing scanned",
    unpaired: "Kiosk not set up", offline: "No connection", lock_failed: "Locker did not open",
    scan_time: "Scan not recorded", not_done: "Please scan again",
    typed_badge: "Please tap your badge",
  };
  // Text icons the Pi's DejaVu fonts have; "phone" is the page's own SVG.
  const ICONS = { deposited: "✓", collected: "✓", choose: "?", refused: "!", on_duty: "phone",
                  off_duty: "→", requested: "✓", pending: "…", agreed: "phone" };
  const TIMES = { deposited: "Locked away at", collected: "Collected at", on_duty: "On duty from",
                  off_duty: "Signed out at" };
  const ASK_IDLE_SECONDS = 60; // a form left untouched this long goes back to idle
  const SHOW_COUNTDOWN_FROM = 15;
  const REPEAT_MS = 1000; // the same code again within this is the scanner repeating itself
  const RETRY_MS = [400, 1200]; // a scan that could not be sent is retried with the same key
  const POLL_MS = 1000;
  // A scanner's keys, the Enter after them included, come a few ms apart (a 10-digit badge
  // in well under 100 ms); a person's 100 ms or more, and nobody keeps up 40 ms a key. A
  // busy Pi may delay one key, so the average decides, with a ceiling on any single gap.
  const SCANNER_MEAN_GAP_MS = 40;
  const SCANNER_MAX_GAP_MS = 120;
  const OFFLINE_AFTER_FAILED_POLLS = 3;
  const OFFLINE = { kind: "offline",
                    message: "No connection to the school server — please see the office" };
  let idleTimer = null, countdownTimer = null, typed = "";
  let keyTimes = []; // when each key of the code in the hidden input was pressed
  // "scan": a scan deposits or collects; "ask": it only identifies; "form": a request is being
  // made for ask.code, whose own badge scanned again is ignored.
  let mode = "scan";
  let ask = null;
  let lastScan = { code: "", at: 0 };
  let latestRequest = 0;
  let eventsAfter = Number(body.dataset.eventsAfter || 0);
  let failedPolls = 0, shownWarnings = "";
  let askModeSent = Promise.resolve(); // in order: an "off" never overtakes its "on"

  // Entering "ask" (again) tells the server to let the agent's next scan only identify, for a
  // minute; leaving it tells the server to stop.
  function setMode(next) {
    if (next === "ask" || mode === "ask") tellAskMode(next === "ask");
    mode = next;
  }

  function tellAskMode(on) {
    askModeSent = askModeSent.then(() => fetch(body.dataset.askModeUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ on }),
    })).catch(() => {}); // no connection: the server's question expires by itself
  }

  function show(name) {
    screens.forEach((s) => { $(s).hidden = s !== name; });
    body.classList.toggle("asking", name === "ask"); // the form needs the demo strip's room
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
    setMode("scan"); ask = null;
    show("idle"); keepFocus();
  }

  // Back to idle after ``seconds``; the countdown shows in ``counters`` for the last
  // ``showFrom`` seconds (results show it all along).
  function idleAfter(seconds, counters = [$("countdown")], showFrom = seconds) {
    stopTimers();
    const deadline = Date.now() + seconds * 1000; // from the clock: timers can run late
    const paint = () => {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      counters.forEach((counter) => {
        counter.textContent = left > 0 && left <= showFrom ? `(${left})` : "";
      });
    };
    paint();
    countdownTimer = setInterval(paint, 1000);
    idleTimer = setTimeout(goIdle, seconds * 1000);
  }

  // Forms wait for a minute without a touch; every touch starts the minute again.
  function idleAfterNoTouch() {
    idleAfter(ASK_IDLE_SECONDS, [...document.querySelectorAll(".ask-countdown")],
              SHOW_COUNTDOWN_FROM);
  }

  function setIcon(element, icon) {
    if (icon === "phone") {
      element.innerHTML = '<svg class="icon" aria-hidden="true"><use href="#icon-phone"/></svg>';
    } else {
      element.textContent = icon;
    }
  }

  function showResult(data) {
    const outcome = data.outcome in TITLES ? data.outcome : "refused";
    const exception = data.exception || (outcome === "agreed" ? data.request : null);
    const panel = $("result");
    panel.className = `screen result ${outcome}`;
    setMode("scan");
    setIcon($("result-icon"), ICONS[outcome]);
    $("result-title").textContent =
      outcome === "refused" ? REFUSED[data.reason] || TITLES.refused : TITLES[outcome];
    $("done-label").textContent = outcome === "choose" ? "Cancel" : "Done";
    $("result-locker").textContent = data.locker != null ? `Locker ${data.locker}` : "";
    const until = isOnDuty(outcome) && exception ? `until ${exception.until}` : "";
    $("result-until").textContent = until;
    $("result-until").classList.toggle("words", until.length > 12); // "the end of the day"
    $("result-message").textContent = resultMessage(outcome, data, exception);
    $("result-detail").textContent = detailLine(outcome, data, exception);
    $("result-conditions").textContent =
      exception && exception.conditions ? `Conditions: ${exception.conditions}` : "";
    $("result-time").textContent = data.time && TIMES[outcome]
      ? `${TIMES[outcome]} ${data.time}` : "";
    const choices = $("choices");
    choices.replaceChildren();
    (data.choices || []).forEach((choice) => choices.append(choiceButton(choice)));
    // Someone who has just locked their phone away may still need to ask for it today.
    $("result-ask").hidden = !(outcome === "deposited" || outcome === "agreed");
    $("result-ask-label").textContent =
      outcome === "agreed" ? "Ask for something else" : "I need my phone today";
    show("result");
    const long = ["choose", "on_duty", "requested", "pending", "agreed"].includes(outcome);
    idleAfter(long ? idleSeconds * 2 : idleSeconds);
    keepFocus();
  }

  // What the screen says in words. Agreed exceptions are shown from their parts (who, until
  // when, conditions), so nothing is said twice.
  function resultMessage(outcome, data, exception) {
    if (isOnDuty(outcome) && exception) {
      return `${data.person || ""} · agreed by ${exception.approved_by}`.replace(/^ · a/, "A");
    }
    const message = data.message || "";
    if (outcome === "collected") { // the duty sentence has a line of its own below
      return message.replace(/\s*(You are now off duty\.|You may keep it until .*)$/, "");
    }
    return message;
  }

  const isOnDuty = (outcome) => outcome === "on_duty" || outcome === "agreed";

  // A second line: what the collection means for duty, or what was asked.
  function detailLine(outcome, data, exception) {
    if (outcome === "collected" && exception) {
      return `You may keep it until ${exception.until}, as agreed by ${exception.approved_by}.`;
    }
    if (outcome === "collected" && data.off_duty) return "→ You are now off duty.";
    if (outcome === "requested" && data.request) {
      return `You asked for: ${data.request.window}.`; // never why: the screen is public
    }
    if (outcome === "agreed") return "Scan as usual: there is no need to ask again.";
    return "";
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
    button.addEventListener("click", () => send(choice.code, "keypad")); // a label: it acts
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

  // A scan acts at once, whatever is on screen: it replaces any message or keypad. ``entry``:
  // "scanner", "typed" or "keypad".
  async function send(code, entry) {
    code = code.trim();
    if (!code || isRepeat(code)) return;
    const request = ++latestRequest;
    setMode("scan"); ask = null;
    stopTimers();
    show("busy");
    const answer = await post({ code, key: newKey(), source: "page", entry });
    if (request === latestRequest) showResult(answer); // else a newer scan has taken over
  }

  // Every code, from the scanner, the keypad or a demo button, comes here: what it does
  // depends on what the screen is asking for.
  function take(code, entry) {
    code = code.trim();
    if (!code) return;
    if (mode === "ask") {
      identify(code);
    } else if (mode === "form" && sameCode(code, ask.code)) {
      // The person asking scanned again: their form stays as it is.
    } else {
      send(code, entry);
    }
  }

  const sameCode = (a, b) => a.replace(/\s+/g, "").toUpperCase()
    === b.replace(/\s+/g, "").toUpperCase();

  async function post(payload, url = body.dataset.scanUrl) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const response = await fetch(url, {
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
    if (event.kind === "scan" && event.data.outcome === "identified") {
      takeIdentified(event.data.code);
    } else if (event.kind === "scan" || event.kind === "lock_failed") {
      showResult(event.data);
    }
    // door_open needs no screen of its own: the warning banner names the door.
  }

  // A badge or label read by the agent while this page asked who is there: on to the form, as
  // if the code had been typed. If the page has stopped asking meanwhile, nothing was done.
  function takeIdentified(code) {
    if (mode === "ask") {
      identify(code);
    } else if (!(mode === "form" && sameCode(code, ask.code))) {
      showResult({ outcome: "refused", reason: "not_done",
                   message: "Nothing was locked away or collected. Please scan again." });
    }
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

  // "scanner" if the keys of ``code`` and the suffix at ``endedAt`` came at a scanner's pace;
  // "typed" if not, or if some characters came without a key (pasted). Event times, not
  // when the page got round to them: a busy page does not slow a scanner down.
  function entryOf(code, endedAt) {
    const times = [...keyTimes, endedAt];
    keyTimes = [];
    if (times.length - 1 < code.length || times.length < 2) return "typed";
    const gaps = times.slice(1).map((time, i) => time - times[i]);
    const mean = (times[times.length - 1] - times[0]) / gaps.length;
    return mean <= SCANNER_MEAN_GAP_MS && Math.max(...gaps) <= SCANNER_MAX_GAP_MS
      ? "scanner" : "typed";
  }

  function takeScannerCode(endedAt) {
    const code = scanner.value;
    scanner.value = "";
    take(code, entryOf(code, endedAt));
  }

  const isKey = (event) => event.key.length === 1 && !event.ctrlKey && !event.altKey;

  // Enter, Tab, or CR/LF sent as Ctrl+M / Ctrl+J, ends a code.
  const isSuffix = (event) => event.key === "Enter" || event.key === "Tab"
    || (event.ctrlKey && (event.key === "m" || event.key === "j"));

  scanner.addEventListener("keydown", (event) => {
    if (isSuffix(event)) {
      event.preventDefault();
      takeScannerCode(event.timeStamp);
    } else if (isKey(event)) {
      if (scanner.value === "") keyTimes = []; // a new code starts
      keyTimes.push(event.timeStamp);
    }
  });
  // A suffix that arrives as a character (a tab or line break inserted as text).
  scanner.addEventListener("input", (event) => {
    const parts = scanner.value.split(/[\t\r\n]/);
    if (parts.length === 1) return;
    scanner.value = parts.pop();
    const entry = entryOf(parts.join(""), event.timeStamp);
    parts.forEach((part) => take(part, entry));
  });
  // Typing that lands elsewhere (a button kept focus) belongs to the scanner.
  document.addEventListener("keydown", (event) => {
    if (event.target === scanner || !isKey(event)) return;
    event.preventDefault();
    if (scanner.value === "") keyTimes = [];
    keyTimes.push(event.timeStamp);
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
  function openKeypad() { show("keypad"); idleAfterNoTouch(); }
  $("open-keypad").addEventListener("click", openKeypad);
  $("key-cancel").addEventListener("click", goIdle);
  $("key-delete").addEventListener("click", () => {
    typed = typed.slice(0, -1); $("typed").textContent = typed;
  });
  $("key-enter").addEventListener("click", () => {
    const code = typed; typed = ""; $("typed").textContent = ""; take(code, "keypad");
  });
  $("done").addEventListener("click", goIdle);
  // Demo buttons play what a scanner would type (the demo only: production has none).
  document.querySelectorAll(".demo-code").forEach((button) =>
    button.addEventListener("click", () => take(button.dataset.code, "scanner")));

  // --- asking for an exception ---------------------------------------------------------------

  function startAsking() {
    ++latestRequest; // an answer still on its way is no longer wanted
    setMode("ask"); ask = null;
    show("ask-scan");
    idleAfterNoTouch();
    keepFocus();
  }

  async function identify(code) {
    if (isRepeat(code)) return;
    const request = ++latestRequest;
    stopTimers();
    show("busy");
    const answer = await post({ code }, body.dataset.identifyUrl);
    if (request !== latestRequest) return;
    if (answer.outcome !== "identified") { showResult(answer); return; }
    if (answer.request && answer.request.status === "pending") {
      showResult({ ...answer, outcome: "pending" });
      return;
    }
    ask = { code, person: answer.person, windows: answer.windows, category: null, reason: "",
            window: null, shift: true };
    if (answer.request) { // already agreed: say so, and offer to ask for something else
      showResult({ ...answer, outcome: "agreed" });
      return;
    }
    openForm();
  }

  function openForm() {
    setMode("form");
    $("ask-who").textContent = ask.person;
    ask.window = null;
    step("category");
    show("ask");
    idleAfterNoTouch();
  }

  const STEPS = {
    category: "1 of 3: Why do you need your phone?",
    reason: "2 of 3: Say briefly why",
    window: "3 of 3: Until when?",
  };

  function step(name) {
    ask.step = name;
    Object.keys(STEPS).forEach((s) => { $(`step-${s}`).hidden = s !== name; });
    $("ask-title").textContent = STEPS[name];
    document.querySelectorAll("[data-category]").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.category === ask.category));
    });
    if (name === "reason") paintReason();
    if (name === "window") paintWindows();
  }

  function back() {
    if (ask.step === "window") step("reason");
    else if (ask.step === "reason") step("category");
    else startAsking();
  }

  // The reason, typed on the on-screen keyboard. A capital starts it, and each sentence.
  const MAX_REASON = 120;
  const ROWS = ["1234567890", "qwertyuiop", "asdfghjkl'", "zxcvbnm,.-"];

  function paintReason() {
    const shown = $("reason");
    shown.textContent = ask.reason;
    shown.classList.toggle("full", ask.reason.length >= MAX_REASON);
    shown.scrollLeft = shown.scrollWidth; // the end of a long reason, where typing happens
    const upper = ask.shift;
    document.querySelectorAll("#qwerty [data-key]").forEach((button) => {
      button.textContent = upper ? button.dataset.key.toUpperCase() : button.dataset.key;
    });
    $("key-shift").setAttribute("aria-pressed", String(upper));
  }

  function typeKey(key) {
    if (ask.reason.length >= MAX_REASON) return;
    ask.reason += ask.shift ? key.toUpperCase() : key;
    ask.shift = false;
    if (/[.!?] $/.test(ask.reason)) ask.shift = true;
    paintReason();
  }

  ROWS.join("").split("").forEach((key) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.key = key;
    button.textContent = key;
    button.addEventListener("click", () => typeKey(key));
    $("qwerty").insertBefore(button, $("key-shift"));
  });
  $("key-shift").addEventListener("click", () => { ask.shift = !ask.shift; paintReason(); });
  $("key-space").addEventListener("click", () => {
    if (ask.reason && !ask.reason.endsWith(" ")) typeKey(" ");
  });
  $("reason-delete").addEventListener("click", () => {
    ask.reason = ask.reason.slice(0, -1);
    ask.shift = ask.reason === "" || /[.!?] $/.test(ask.reason);
    paintReason();
  });
  $("reason-next").addEventListener("click", () => step("window"));

  function windowButton(choice) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = choice.label;
    button.setAttribute("aria-pressed", String(ask.window === choice));
    button.addEventListener("click", () => { ask.window = choice; paintWindows(); });
    return button;
  }

  function paintWindows() {
    const of = (kind) => ask.windows.filter((w) => w.kind === kind).map(windowButton);
    $("windows-time").replaceChildren(...of("time"));
    $("windows-days").replaceChildren(...of("days"));
    const category = document.querySelector(`[data-category="${ask.category}"]`);
    const until = ask.window ? ask.window.summary : "until when? Choose above";
    $("ask-summary").textContent =
      `You are asking: ${category ? category.textContent.trim() : "no reason chosen"}, `
      + `“${ask.reason.trim() || "…"}”, ${until}.`;
    $("ask-send").disabled = false;
    $("ask-send").textContent = "Send to SLT ›";
    askError("");
  }

  function askError(message) {
    $("ask-error-text").textContent = message;
    $("ask-error").hidden = !message;
  }

  async function sendRequest() {
    const sendButton = $("ask-send");
    if (sendButton.disabled) return;
    if (!ask.window) { askError("Choose until when you need your phone."); return; }
    sendButton.disabled = true; // one tap, one request
    sendButton.textContent = "Sending…";
    const request = ++latestRequest;
    const answer = await post({
      code: ask.code, category: ask.category || "", reason: ask.reason,
      ends_on: ask.window ? ask.window.ends_on : null,
      until: ask.window ? ask.window.until : null,
    }, body.dataset.requestUrl);
    if (request !== latestRequest) return;
    if (answer.outcome === "refused" && (answer.reason === "invalid"
                                         || answer.reason === "offline")) {
      sendButton.disabled = false;
      sendButton.textContent = "Send to SLT ›";
      askError(answer.message); // the domain's own sentence: the form stays to fix it
      idleAfterNoTouch();
      return;
    }
    showResult(answer);
  }

  document.querySelectorAll(".ask-start").forEach((button) =>
    button.addEventListener("click", () => {
      if (ask && mode === "scan" && $("result").classList.contains("agreed")) openForm();
      else startAsking();
    }));
  document.querySelectorAll(".ask-cancel").forEach((button) =>
    button.addEventListener("click", goIdle));
  $("ask-keypad").addEventListener("click", openKeypad);
  $("ask-back").addEventListener("click", back);
  document.querySelectorAll("[data-category]").forEach((button) =>
    button.addEventListener("click", () => { ask.category = button.dataset.category; step("reason"); }));
  $("ask-send").addEventListener("click", sendRequest);
  // Every touch on a form starts its minute again; taps never take focus from the scanner.
  ["keypad", "ask-scan", "ask"].forEach((id) => {
    $(id).addEventListener("pointerdown", () => {
      idleAfterNoTouch();
      if (mode === "ask") tellAskMode(true); // the server's question lasts a minute too
    });
    $(id).addEventListener("mousedown", (event) => event.preventDefault());
  });

  tick(); setInterval(tick, 10000);
  goIdle();
  poll();
})();
