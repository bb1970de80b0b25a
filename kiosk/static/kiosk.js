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
//
// At the edges of a queue: every result is a card that stays at least MIN_SHOW_MS; a scan
// meanwhile gets a card of its own beside it (newest first, at most MAX_CARDS), and a request
// form in progress waits under the cards and comes back as it was. A scan the page cannot
// send (no answer, or a 5xx) is kept in IndexedDB with its idempotency key and the time it was
// made, and sent in order when the server answers again (and after a reload). Each result
// plays a short tone: one for "done", another for "look at the screen".
// Someone who has not acknowledged the current phone policy sees its summary beside their
// result, with "I have read it": the scan has already acted (nothing waits for the tap), the
// tap sends back the signed token the answer carried, and the next scan asks again until then.
(() => {
  "use strict";
  const body = document.body;
  const idleSeconds = Number(body.dataset.idleSeconds || 8);
  const zone = body.dataset.timeZone || "Europe/London";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const scanner = $("scan");
  const screens = ["idle", "busy", "results", "keypad", "ask-scan", "ask"];
  const TITLES = { deposited: "Phone locked away", collected: "Phone collected",
                   choose: "Choose a phone", refused: "Sorry, that did not work",
                   on_duty: "On duty with your phone", off_duty: "Signed out",
                   requested: "Request sent", pending: "Already asked",
                   agreed: "Already agreed by SLT",
                   already_deposited: "Already locked away", already_on_duty: "Already on duty",
                   already_signed_in: "Already signed in",
                   already_collected: "Already collected", already_signed_out: "Already signed out",
                   leave_choice: "Your exception has ended",
                   signed_in_no_phone: "Signed in, no phone registered",
                   signed_out_no_phone: "Signed out", told: "About your request",
                   saved: "Saved", checking: "Checking…" };
  // A refusal names what went wrong; the message below it says what to do.
  const REFUSED = {
    unknown: "Code not recognised", unregistered: "Phone not on the register",
    invalid_imei: "Not a valid IMEI", no_phone: "No phone registered", left: "Badge not active",
    retired: "Phone retired", no_free_locker: "No free locker",
    other_bank: "Phone is at another kiosk", empty: "Nothing scanned",
    unpaired: "Kiosk not set up", offline: "No connection", lock_failed: "Locker did not open",
    scan_time: "Scan not recorded", not_done: "Please scan again",
    typed_badge: "Please tap your badge", already_done: "Already done",
  };
  // Text icons the Pi's DejaVu fonts have; "phone" is the page's own SVG.
  const ICONS = { deposited: "✓", collected: "✓", choose: "?", refused: "!", on_duty: "phone",
                  off_duty: "→", requested: "✓", pending: "…", agreed: "phone",
                  already_deposited: "!", already_on_duty: "!", already_signed_in: "!",
                  already_collected: "!", already_signed_out: "!",
                  leave_choice: "?", signed_in_no_phone: "✓", signed_out_no_phone: "→",
                  told: "i", saved: "✓", checking: "…" };
  const TIMES = { deposited: "Locked away at", collected: "Collected at", on_duty: "On duty from",
                  off_duty: "Signed out at", signed_in_no_phone: "Signed in at",
                  signed_out_no_phone: "Signed out at" };
  // The same scan again soon after: nothing was changed, and a button does it on purpose.
  const CONFIRM = { already_deposited: "Take it out again", already_on_duty: "Sign out now",
                    already_signed_in: "Sign out now",
                    already_collected: "Put it back in a locker",
                    already_signed_out: "Sign in again" };
  const UNCHANGED = {
    already_deposited: (name) => `${name}your phone stays locked away.`,
    already_on_duty: (name, exception) => `${name}you are on duty with your phone${
      exception ? ` until ${exception.until}` : ""}.`,
    already_signed_in: (name) => `${name}you are still signed in.`,
    already_collected: (name) => `${name}your phone stays with you.`,
    already_signed_out: (name) => `${name}you are still signed out.`,
  };
  const LEAVE = { going_home: ["Going home", "Sign out and take your phone"],
                  lock_away: ["Lock my phone away", "Staying on duty"] };
  // Done: the scan did what was wanted, walk on. Anything else: look at the screen.
  const DONE_OUTCOMES = new Set(["deposited", "collected", "on_duty", "off_duty", "requested",
                                 "pending", "agreed", "signed_in_no_phone",
                                 "signed_out_no_phone"]);
  // Results that take longer to read, or wait for a touch.
  const LONG_OUTCOMES = new Set(["choose", "on_duty", "requested", "pending", "agreed",
                                 "already_deposited", "already_on_duty", "already_signed_in",
                                 "already_collected", "already_signed_out",
                                 "told", "saved"]);
  const LEAVE_CHOICE_SECONDS = 30; // "Going home" or "Lock my phone away": then idle again
  const POLICY_SECONDS = 40; // time to read the policy's summary, a few sentences
  const MIN_SHOW_MS = 3000; // a result stays at least this long, whatever comes next
  const MAX_CARDS = 3;
  const ASK_IDLE_SECONDS = 60; // a form left untouched this long goes back to idle
  const SHOW_COUNTDOWN_FROM = 15;
  const REPEAT_MS = 1000; // the same code again within this is the scanner repeating itself
  const RETRY_MS = [400, 1200]; // a scan that could not be sent is retried with the same key
  const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000]; // then the saved scans, in order
  const WAIT_FOR_QUEUE_MS = 2500; // a scan behind saved ones waits this long for its answer
  const POLL_MS = 1000;
  // A scanner's keys, the Enter after them included, come a few ms apart (a 10-digit badge
  // in well under 100 ms); a person's 100 ms or more, and nobody keeps up 40 ms a key. A
  // busy Pi may delay one key, so the average decides, with a ceiling on any single gap.
  const SCANNER_MEAN_GAP_MS = 40;
  const SCANNER_MAX_GAP_MS = 120;
  const OFFLINE_AFTER_FAILED_POLLS = 3;
  // Said the same way by the banner and by a saved scan's card: one thing, and what to do.
  const OFFLINE = { kind: "offline",
                    message: "No connection to the school server: scans are saved and sent "
                             + "when it is back" };
  const SAVED = {
    outcome: "saved",
    message: "No connection: it will be recorded when the connection is back.",
    detail: "Put your phone in your usual locker and tell the office its number.",
  };
  const NOT_SENT = { outcome: "refused", reason: "offline",
                     message: "The kiosk could not reach the school server. "
                              + "Please try again in a minute." };
  let idleTimer = null, countdownTimer = null, typed = "";
  let keyTimes = []; // when each key of the code in the hidden input was pressed
  // "scan": a scan deposits or collects; "ask": it only identifies; "form": a request is being
  // made for ask.code, whose own badge scanned again is ignored. A form stays "form" while
  // other people's results show over it (``formUnder``), and comes back when they are gone.
  let mode = "scan";
  let ask = null;
  let formUnder = false;
  let lastScan = { code: "", at: 0 };
  let latestRequest = 0; // the ask flow's: an answer to an abandoned question is not shown
  let eventsAfter = Number(body.dataset.eventsAfter || 0);
  let failedPolls = 0, shownWarnings = "";
  let askModeSent = Promise.resolve(); // in order: an "off" never overtakes its "on"

  // --- sound ---------------------------------------------------------------------------------

  // Two short tones rising for "done", two falling and rougher for "look at the screen".
  // Chromium lets a page start audio after a key or a touch (a scanner's keys count); a kiosk
  // browser started with --autoplay-policy=no-user-gesture-required plays for the agent's
  // readers from the start.
  const sound = (() => {
    const on = body.dataset.sound !== "off";
    let context = null;
    function ready() {
      if (!on) return null;
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return null;
      if (!context) context = new Context();
      if (context.state === "suspended") context.resume().catch(() => {});
      return context;
    }
    function tone(audio, frequency, start, seconds, type) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = type;
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.25, start + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + seconds);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(start);
      oscillator.stop(start + seconds + 0.02);
    }
    return {
      ready,
      play(done) {
        const audio = ready();
        if (!audio) return;
        const at = audio.currentTime + 0.01;
        if (done) {
          tone(audio, 880, at, 0.09, "sine");
          tone(audio, 1320, at + 0.1, 0.14, "sine");
        } else {
          tone(audio, 330, at, 0.16, "triangle");
          tone(audio, 220, at + 0.19, 0.24, "triangle");
        }
      },
    };
  })();
  // Not on keydown: a scanner's keys are timed, and nothing may slow them down.
  document.addEventListener("pointerdown", () => sound.ready(), { capture: true, passive: true });

  // --- modes and screens ---------------------------------------------------------------------

  // Entering "ask" (again) tells the server to let the agent's next scan only identify, for a
  // minute; leaving it tells the server to stop.
  function setMode(next) {
    if (next === "ask" || mode === "ask") tellAskMode(next === "ask");
    mode = next;
    if (next !== "form") formUnder = false;
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
    clearCards();
    typed = ""; $("typed").textContent = "";
    setMode("scan"); ask = null;
    show("idle"); keepFocus();
  }

  // Back to idle after ``seconds``; the countdown shows in ``counters`` for the last
  // ``showFrom`` seconds.
  function idleAfter(seconds, counters, showFrom) {
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

  // --- result cards --------------------------------------------------------------------------

  // Newest first. Each: { el, parts, shownAt, timer, ticker, origin, waiting, gone }.
  // ``origin``: the scan that made it ({code, entry}), so a button on it can send it again.
  const cards = [];

  function newCard() {
    const el = $("result-card").content.firstElementChild.cloneNode(true);
    const parts = {};
    el.querySelectorAll("[data-part]").forEach((part) => { parts[part.dataset.part] = part; });
    parts.card = el;
    const card = { el, parts, shownAt: 0, timer: null, ticker: null, origin: null,
                   waiting: true, gone: false, policy: null };
    parts.done.addEventListener("click", () => removeCard(card));
    parts["policy-read"].addEventListener("click", () => acknowledgePolicy(card));
    parts.ask.addEventListener("click", () => {
      if (ask && card.opensForm) openForm(); // "Ask for something else" / "Ask again"
      else startAsking();
    });
    return card;
  }

  // The newest card's parts carry the ids the page has always had (#result, #result-title,
  // #done...); older cards' parts carry none.
  const IDS = { card: "result", icon: "result-icon", title: "result-title",
                locker: "result-locker", until: "result-until", message: "result-message",
                detail: "result-detail", notice: "result-notice",
                conditions: "result-conditions", time: "result-time", choices: "choices",
                done: "done", "done-label": "done-label", countdown: "countdown",
                ask: "result-ask", "ask-label": "result-ask-label", policy: "result-policy",
                "policy-title": "policy-title", "policy-summary": "policy-summary",
                "policy-whole": "policy-whole", "policy-read": "policy-read",
                "policy-answer": "policy-answer" };

  function arrange() {
    cards.forEach((card, index) => {
      Object.entries(IDS).forEach(([part, id]) => {
        if (index === 0) card.parts[part].id = id;
        else card.parts[part].removeAttribute("id");
      });
      card.el.classList.toggle("older", index > 0);
    });
    $("results").dataset.count = String(cards.length);
  }

  // A card for a new scan, showing "Checking…" until its answer comes. Cards that have been
  // readable for MIN_SHOW_MS and wait for no touch make room first.
  function addCard() {
    const now = Date.now();
    cards.filter((card) => !card.waiting && !card.needsTouch && now - card.shownAt >= MIN_SHOW_MS)
      .forEach((card) => dropCard(card));
    while (cards.length >= MAX_CARDS) dropCard(cards[cards.length - 1]);
    return toFront(newCard());
  }

  // A card (new, or a person's own being asked again) first, showing "Checking...".
  function toFront(card) {
    const at = cards.indexOf(card);
    if (at >= 0) cards.splice(at, 1);
    cards.unshift(card);
    $("results").prepend(card.el);
    paintChecking(card);
    arrange();
    showCards();
    return card;
  }

  function paintChecking(card) {
    card.waiting = true;
    clearTimeout(card.timer); clearInterval(card.ticker);
    paint(card, { outcome: "checking" });
  }

  function dropCard(card) {
    card.gone = true;
    clearTimeout(card.timer); clearInterval(card.ticker);
    card.el.remove();
    cards.splice(cards.indexOf(card), 1);
  }

  // Done, or its time is up: the screen goes back to what was there before the cards.
  function removeCard(card) {
    if (card.gone) return;
    dropCard(card);
    arrange();
    if (cards.length === 0) afterCards();
    keepFocus();
  }

  function clearCards() {
    [...cards].forEach(dropCard);
    arrange();
  }

  // A form in progress waits under the cards (its minute paused); a keypad or "scan your
  // badge" left open is abandoned.
  function showCards() {
    if (mode === "form") formUnder = true;
    else if (mode === "ask") setMode("scan");
    stopTimers();
    show("results");
  }

  function afterCards() {
    if (mode === "form" && formUnder) resumeForm();
    else goIdle();
  }

  // An answer: shown on ``card`` (its "Checking…" card), or on a new card (an agent's scan).
  function present(data, origin = null, card = null) {
    const target = card && !card.gone ? card : (card ? null : addCard());
    if (!target) return; // its card was pushed off by newer ones: the answer is not shown
    if (origin) target.origin = origin;
    else if (data.code) target.origin = { code: data.code, entry: "scanner" };
    target.waiting = false;
    const outcome = paint(target, data);
    target.shownAt = Date.now();
    target.needsTouch = outcome === "leave_choice" || target.policy !== null
      || (outcome in CONFIRM && data.can_confirm !== false && target.origin !== null);
    const seconds = outcome === "leave_choice" ? LEAVE_CHOICE_SECONDS
      : target.policy ? POLICY_SECONDS
      : LONG_OUTCOMES.has(outcome) || data.notice ? idleSeconds * 2 : idleSeconds;
    countDown(target, seconds);
    // A person's newer result tells their story now: an older card of theirs (her badge, then
    // her label; on duty, then signed out) goes, unless it shows another locker of theirs
    // (two phones). ``holder`` names one person; first names alone could be two people.
    target.holder = data.holder || null;
    target.lockerShown = data.locker ?? null;
    cards.filter((c) => c !== target && !c.waiting && c.holder && c.holder === target.holder
      && (c.lockerShown === null || c.lockerShown === target.lockerShown))
      .forEach(removeCard);
    sound.play(DONE_OUTCOMES.has(outcome));
    keepFocus();
  }

  function countDown(card, seconds) {
    const deadline = Date.now() + seconds * 1000;
    const paintLeft = () => {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      card.parts.countdown.textContent = left > 0 ? `(${left})` : "";
    };
    paintLeft();
    card.ticker = setInterval(paintLeft, 1000);
    card.timer = setTimeout(() => removeCard(card), seconds * 1000);
  }

  // Fills a card from an answer; returns the outcome it was shown as.
  function paint(card, data) {
    const p = card.parts;
    const outcome = data.outcome in TITLES ? data.outcome : "refused";
    const exception = data.exception || (outcome === "agreed" ? data.request : null);
    p.card.className = `result ${outcome}${card.el.classList.contains("older") ? " older" : ""}`;
    paintPolicy(card, outcome === "checking" ? null : data.policy);
    setIcon(p.icon, ICONS[outcome]);
    p.title.textContent = titleOf(outcome, data);
    p.locker.textContent = data.locker != null && !(outcome in CONFIRM)
      ? `Locker ${data.locker}` : "";
    const until = isOnDuty(outcome) && exception ? `until ${exception.until}` : "";
    p.until.textContent = until;
    p.until.classList.toggle("words", until.length > 12); // "the end of the day"
    p.message.textContent = resultMessage(outcome, data, exception);
    p.detail.textContent = detailLine(outcome, data, exception, card);
    p.notice.textContent = data.notice || "";
    p.conditions.textContent =
      exception && exception.conditions ? `Conditions: ${exception.conditions}` : "";
    p.time.textContent = data.time && TIMES[outcome] ? `${TIMES[outcome]} ${data.time}` : "";
    p.choices.replaceChildren(...choiceButtons(outcome, data, card));
    p["done-label"].textContent =
      outcome === "choose" || outcome === "leave_choice" ? "Cancel" : "Done";
    p.countdown.textContent = "";
    p.done.hidden = outcome === "checking";
    // Someone who has just locked their phone away may still need to ask for it today; a
    // form already under the cards is someone else's to finish first.
    p.ask.hidden = formUnder
      || !["deposited", "agreed", "told"].includes(outcome);
    p["ask-label"].textContent = { agreed: "Ask for something else", told: "Ask again" }[outcome]
      || "I need my phone today";
    card.opensForm = outcome === "agreed" || outcome === "told";
    return outcome;
  }

  // The policy's summary beside the result, while this person has not acknowledged it.
  function paintPolicy(card, policy) {
    const p = card.parts;
    card.policy = policy && policy.summary ? policy : null;
    p.card.classList.toggle("asks-policy", card.policy !== null);
    p.policy.hidden = card.policy === null;
    if (!card.policy) return;
    p["policy-title"].textContent = `Our phone policy · ${card.policy.version}`;
    p["policy-summary"].textContent = card.policy.summary;
    p["policy-whole"].textContent = card.policy.whole || "";
    p["policy-read"].hidden = !card.policy.token;
    p["policy-read"].disabled = false;
    p["policy-answer"].textContent = "";
    p["policy-answer"].className = "policy-answer";
  }

  // "I have read it": recorded with the answer's token; the card thanks them, then goes.
  async function acknowledgePolicy(card) {
    const p = card.parts;
    const button = p["policy-read"];
    if (!card.policy || button.disabled) return;
    button.disabled = true; // one tap, one acknowledgement
    const answer = await post({ token: card.policy.token }, body.dataset.policyUrl, [])
      || NOT_SENT;
    if (card.gone) return;
    const recorded = answer.outcome === "acknowledged";
    p["policy-answer"].textContent = answer.message || "";
    p["policy-answer"].className = `policy-answer ${recorded ? "recorded" : "not-recorded"}`;
    if (answer.reason === "offline") { // no connection: the tap may be tried again
      button.disabled = false;
      return;
    }
    button.hidden = true;
    card.needsTouch = false;
    clearTimeout(card.timer); clearInterval(card.ticker);
    countDown(card, idleSeconds);
    sound.play(recorded);
    keepFocus();
  }

  function titleOf(outcome, data) {
    if (outcome === "refused") return REFUSED[data.reason] || TITLES.refused;
    if (outcome === "already_deposited" && data.locker != null) {
      return `Already in locker ${data.locker}`;
    }
    if (outcome === "already_collected" && data.locker != null) {
      return `Already collected from locker ${data.locker}`;
    }
    return TITLES[outcome];
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
    // Said in the person's own words, with their first name, rather than the title again.
    if (outcome in CONFIRM) {
      const sentence = UNCHANGED[outcome](data.person ? `${data.person}, ` : "", exception);
      return sentence.charAt(0).toUpperCase() + sentence.slice(1);
    }
    if (outcome === "signed_in_no_phone") return data.person ? `Hello, ${data.person}.` : "";
    if (outcome === "signed_out_no_phone") return data.person ? `Goodbye, ${data.person}.` : "";
    return message;
  }

  const isOnDuty = (outcome) => outcome === "on_duty" || outcome === "agreed";

  // A second line: what the collection means for duty, or what was asked.
  function detailLine(outcome, data, exception, card) {
    if (outcome === "collected" && exception) {
      return `You may keep it until ${exception.until}, as agreed by ${exception.approved_by}.`;
    }
    if (outcome === "collected" && data.off_duty) return "→ You are now off duty.";
    if (outcome === "requested" && data.request) {
      return `You asked for: ${data.request.window}.`; // never why: the screen is public
    }
    if (outcome === "agreed") return "Scan as usual: there is no need to ask again.";
    if (outcome in CONFIRM) {
      return card.origin || data.code ? "Nothing was changed."
        : "Nothing was changed. To change it, scan again a little later.";
    }
    if (outcome === "signed_out_no_phone") return "No phone registered.";
    if (outcome === "leave_choice") return "Nothing is done until you choose.";
    if (outcome === "saved") return data.detail;
    return "";
  }

  function choiceButtons(outcome, data, card) {
    if (outcome === "choose") return (data.choices || []).map((c) => phoneButton(c, card));
    if (outcome === "leave_choice" && (card.origin || data.code)) {
      return (data.choices || ["going_home", "lock_away"]).filter((c) => c in LEAVE)
        .map((choice) => bigButton(...LEAVE[choice], `leave-${choice}`,
                                   () => again(card, { choice })));
    }
    if (outcome in CONFIRM && data.can_confirm !== false && (card.origin || data.code)) {
      return [bigButton(CONFIRM[outcome], "", "confirm", () => again(card, { confirm: true }))];
    }
    return [];
  }

  function bigButton(name, note, className, act) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = className;
    const words = document.createElement("span");
    words.className = "choice-name";
    words.textContent = name;
    button.append(words);
    if (note) {
      const small = document.createElement("span");
      small.className = "choice-where";
      small.textContent = note;
      button.append(small);
    }
    button.addEventListener("click", act);
    return button;
  }

  // One phone to choose: its name, and where it is now (so a tap there collects it).
  function phoneButton(choice, card) {
    const where = choice.locker != null ? `Now in locker ${choice.locker}` : "Not in a locker";
    // A label: it acts, typed or not.
    return bigButton(choice.description, where, "",
                     () => send(choice.code, "keypad", {}, card));
  }

  // The card's scan again, on purpose this time (a fresh key: it is a new request).
  function again(card, extra) {
    if (!card.origin) return;
    send(card.origin.code, card.origin.entry, extra, card);
  }

  // --- sending scans -------------------------------------------------------------------------

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

  // A scan acts at once, whatever is on screen: its card shows beside any still being read,
  // over a form in progress. ``entry``: "scanner", "typed" or "keypad". ``card``: the card
  // whose button sent it (a phone chosen, "Take it out again"), whose place its answer takes.
  async function send(code, entry, extra = {}, card = null) {
    code = code.trim();
    if (!code || (!card && isRepeat(code))) return;
    // The same code again (past the scanner's repeat) is the same person: their card, moved
    // to the front, not a second one.
    const own = card
      || cards.find((c) => !c.waiting && c.origin && sameCode(c.origin.code, code));
    const target = own ? toFront(own) : addCard();
    const payload = { code, key: newKey(), source: "page", entry, ...extra };
    const scannedAt = new Date().toISOString(); // if it has to wait, it is recorded at this
    let answer;
    if (outbox.length > 0) { // saved scans go first: this one waits its turn
      answer = await outbox.add({ ...payload, scanned_at: scannedAt }, WAIT_FOR_QUEUE_MS);
    } else {
      answer = await post(payload);
      if (answer === null) answer = await outbox.add({ ...payload, scanned_at: scannedAt }, 0);
    }
    present(answer || SAVED, { code, entry }, target);
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

  // One request; the answer's JSON, or null if the server did not answer it (no connection, a
  // 5xx, or a page older than its CSRF token). ``retries`` with the same key, a moment apart.
  async function post(payload, url = body.dataset.scanUrl, retries = RETRY_MS) {
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
        // A 400 that is not ours is a stale CSRF token: a fresh page gets a new one (and
        // sends what is saved).
        if (response.status === 400) { setTimeout(() => location.reload(), 3000); return null; }
      } catch (error) {
        // No answer at all: try again with the same key, so it acts at most once.
      }
      if (attempt >= retries.length) return null;
      await sleep(retries[attempt]);
    }
  }

  // Scans the server has not answered, oldest first, kept in IndexedDB so that a reload or a
  // restart of the Pi loses none. Sent one at a time, each with its own key and the time it
  // was made (scanned_at), until one gets no answer; then again after a pause that grows,
  // and at once when the events poll gets an answer.
  const outbox = (() => {
    const items = []; // { id, payload }
    const waiters = new Map(); // key -> resolve, for a scan whose card awaits its answer
    let sending = false, retryTimer = null, failures = 0;
    let opened = null;

    function database() {
      if (!opened) {
        opened = new Promise((resolve, reject) => {
          const request = indexedDB.open("kiosk-outbox", 1);
          request.onupgradeneeded = () => request.result.createObjectStore(
            "scans", { keyPath: "id", autoIncrement: true });
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
        });
      }
      return opened;
    }

    // One IndexedDB request in its own transaction; its result once the transaction commits.
    async function stored(mode, act) {
      const db = await database();
      return new Promise((resolve, reject) => {
        const transaction = db.transaction("scans", mode);
        const request = act(transaction.objectStore("scans"));
        transaction.oncomplete = () => resolve(request.result);
        transaction.onerror = () => reject(transaction.error);
        transaction.onabort = () => reject(transaction.error);
      });
    }

    function paintCount() {
      const count = items.length;
      $("waiting").hidden = count === 0;
      $("waiting").textContent = `${count} ${count === 1 ? "scan" : "scans"} waiting to send`;
    }

    // Saves the scan, then waits up to ``waitMs`` for its answer (null if none by then).
    async function add(payload, waitMs) {
      let id = null;
      try {
        id = await stored("readwrite", (scans) => scans.add({ payload }));
      } catch (error) {
        // No IndexedDB (a private window): kept in memory, sent all the same.
      }
      items.push({ id, payload });
      paintCount();
      const answered = new Promise((resolve) => { waiters.set(payload.key, resolve); });
      sendSoon(0);
      const answer = await Promise.race([answered, sleep(waitMs).then(() => null)]);
      if (answer === null) waiters.delete(payload.key);
      return answer;
    }

    function sendSoon(ms) {
      clearTimeout(retryTimer);
      retryTimer = setTimeout(sendAll, ms);
    }

    async function sendAll() {
      if (sending) return;
      sending = true;
      try {
        while (items.length > 0) {
          const item = items[0];
          const answer = await post(item.payload, body.dataset.scanUrl, []);
          if (answer === null) {
            sendSoon(BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]);
            failures += 1;
            return;
          }
          failures = 0;
          if (item.id !== null) {
            await stored("readwrite", (scans) => scans.delete(item.id)).catch(() => {});
          }
          items.shift();
          paintCount();
          const waiter = waiters.get(item.payload.key);
          waiters.delete(item.payload.key);
          if (waiter) waiter(answer);
        }
      } finally {
        sending = false;
      }
    }

    // What an earlier page (or before a restart) left unsent, oldest first.
    async function load() {
      try {
        const saved = await stored("readonly", (scans) => scans.getAll());
        saved.forEach((item) => items.push(item));
      } catch (error) {
        return;
      }
      paintCount();
      if (items.length > 0) sendSoon(0);
    }

    return {
      add, load,
      get length() { return items.length; },
      serverIsBack() { if (items.length > 0 && !sending) { failures = 0; sendSoon(0); } },
    };
  })();

  // --- scans from the kiosk agent, and its warnings -----------------------------------------

  function showEvent(event) {
    if (event.kind === "scan" && event.data.outcome === "identified") {
      takeIdentified(event.data.code);
    } else if (event.kind === "scan" || event.kind === "lock_failed") {
      present(event.data);
    }
    // door_open needs no screen of its own: the warning banner names the door.
  }

  // A badge or label read by the agent while this page asked who is there: on to the form, as
  // if the code had been typed. If the page has stopped asking meanwhile, nothing was done.
  function takeIdentified(code) {
    if (mode === "ask") {
      identify(code);
    } else if (!(mode === "form" && sameCode(code, ask.code))) {
      present({ outcome: "refused", reason: "not_done",
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
      outbox.serverIsBack();
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
    const answer = await post({ code }, body.dataset.identifyUrl) || NOT_SENT;
    if (request !== latestRequest) return;
    if (answer.outcome !== "identified") { askResult(answer); return; }
    if (answer.request && answer.request.status === "pending") {
      askResult({ ...answer, outcome: "pending" });
      return;
    }
    ask = { code, person: answer.person, windows: answer.windows, category: null, reason: "",
            window: null, shift: true, step: "category" };
    if (answer.request) { // already agreed: say so, and offer to ask for something else
      askResult({ ...answer, outcome: "agreed" });
    } else if (answer.notice) { // SLT's decision on an earlier request, before a new one
      askResult({ ...answer, outcome: "told", message: "" });
    } else {
      openForm();
    }
  }

  // The asker's own result ends the form (the question has been answered).
  function askResult(answer) {
    setMode("scan");
    clearCards();
    present(answer);
  }

  function openForm() {
    setMode("form");
    clearCards();
    $("ask-who").textContent = ask.person;
    Object.assign(ask, { category: null, reason: "", window: null, shift: true });
    step("category");
    show("ask");
    idleAfterNoTouch();
  }

  // Other people's results have gone: the form comes back as it was left (its step, category,
  // reason and time), with a fresh minute.
  function resumeForm() {
    formUnder = false;
    show("ask");
    step(ask.step);
    idleAfterNoTouch();
    keepFocus();
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
    reasonError("");
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
    reasonError("");
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
  // The same sentence the server would answer, but now, not after the last step.
  $("reason-next").addEventListener("click", () => {
    if (ask.reason.trim()) step("window");
    else reasonError("Say briefly why the phone is needed.");
  });

  function reasonError(message) {
    $("reason-error-text").textContent = message;
    $("reason-error").hidden = !message;
  }

  function windowButton(choice) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    if (choice.kind === "time" && !choice.until) {
      // "End of day" beside "17:00" read as 17:00: the window ends at midnight.
      const words = document.createElement("span");
      words.textContent = "Midnight";
      const note = document.createElement("span");
      note.className = "window-note";
      note.textContent = "all day";
      button.append(words, " ", note);
    } else {
      button.textContent = choice.label;
    }
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
    }, body.dataset.requestUrl) || NOT_SENT;
    if (request !== latestRequest) return;
    if (answer.outcome === "refused" && (answer.reason === "invalid"
                                         || answer.reason === "offline")) {
      sendButton.disabled = false;
      sendButton.textContent = "Send to SLT ›";
      askError(answer.message); // the domain's own sentence: the form stays to fix it
      idleAfterNoTouch();
      return;
    }
    askResult(answer);
  }

  document.querySelectorAll(".ask-start").forEach((button) =>
    button.addEventListener("click", startAsking));
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
  outbox.load();
  poll();
})();
