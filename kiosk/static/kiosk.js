// The kiosk screen. A keyboard-mode scanner types a code and presses Enter into the hidden,
// always-focused input; the on-screen keypad is the fallback when a scanner fails.
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
    unpaired: "Kiosk not set up", offline: "No connection",
  };
  const ICONS = { deposited: "✓", collected: "✓", choose: "?", refused: "!" };
  let idleTimer = null, countdownTimer = null, typed = "";

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

  function goIdle() {
    clearTimeout(idleTimer); clearInterval(countdownTimer);
    typed = ""; $("typed").textContent = "";
    show("idle"); keepFocus();
  }

  function idleAfter(seconds) {
    clearTimeout(idleTimer); clearInterval(countdownTimer);
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
    $("result-locker").textContent =
      data.locker != null && outcome !== "refused" ? `Locker ${data.locker}` : "";
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

  async function send(code) {
    code = code.trim();
    if (!code) return;
    show("busy");
    try {
      const response = await fetch(body.dataset.scanUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ code }),
      });
      const isJson = (response.headers.get("Content-Type") || "").includes("json");
      if (!isJson) throw new Error(`HTTP ${response.status}`);
      showResult(await response.json());
    } catch (error) {
      showResult({ outcome: "refused", reason: "offline",
                   message: "The kiosk could not reach the school server. Please scan again." });
      if (String(error).includes("HTTP 400")) setTimeout(() => location.reload(), 3000);
    }
  }

  // Scanner: characters arrive in the hidden input, Enter (or Tab) ends the code.
  scanner.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      const code = scanner.value;
      scanner.value = "";
      send(code);
    }
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
})();
