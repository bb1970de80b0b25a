/* The SLT tablet: new requests appear without a reload (the page polls a small JSON
   endpoint), the count shows in the title, and a decline or revocation needs a reason.
   Decisions themselves are plain form posts: they work without this script. */
(() => {
  "use strict";

  // --- a reason is needed to decline or revoke: say so on the card, before any round trip ---
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.closest(".slt")) return;
    const reason = form.querySelector("input[name=reason]");
    if (form.dataset.requiredMessage && reason && !reason.value.trim()) {
      event.preventDefault();
      showCardError(form, form.dataset.requiredMessage);
      reason.setAttribute("aria-invalid", "true");
      reason.focus();
      return;
    }
    // One tap is enough: a second would only be refused as already decided.
    window.setTimeout(() => {
      form.querySelectorAll("button[type=submit]").forEach((button) => { button.disabled = true; });
    }, 0);
  });

  function showCardError(form, message) {
    const card = form.closest(".card") || form;
    let error = card.querySelector(".card-error");
    if (!error) {
      error = document.createElement("p");
      error.className = "error card-error";
      error.setAttribute("role", "alert");
      card.querySelector("form").before(error);
    }
    const label = document.createElement("strong");
    label.textContent = "Not done:";
    error.replaceChildren(label, ` ${message}`);
  }

  // --- new pending requests, without a reload ---
  const root = document.getElementById("slt");
  if (root && root.dataset.pollUrl) startPolling(root);

  function startPolling(root) {
    const list = document.getElementById("pending-list");
    const empty = document.getElementById("pending-empty");
    const status = document.getElementById("poll-status");
    const seconds = Number(root.dataset.pollSeconds) || 5;
    let timer = null;
    let failures = 0;

    const cards = () => [...list.querySelectorAll(":scope > [data-request-id]")];

    async function poll() {
      timer = null;
      const have = cards().map((card) => card.dataset.requestId).join(",");
      try {
        const response = await fetch(`${root.dataset.pollUrl}?have=${have}`, {
          headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store",
        });
        if (response.redirected || response.status === 401 || response.status === 403) {
          status.textContent = "You have been signed out: reload the page to sign in again.";
          return; // stop: every further poll would be refused too
        }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        update(await response.json());
        if (failures >= 3) status.textContent = "Connected again.";
        failures = 0;
      } catch (_error) {
        failures += 1;
        if (failures === 3) {
          status.textContent = "Cannot reach the server: new requests will show when it answers.";
        }
      }
      schedule();
    }

    function schedule() {
      if (timer === null) timer = window.setTimeout(poll, seconds * 1000);
    }

    function update(data) {
      // A fire alarm raised or cleared since the page loaded: show (or drop) its banner now.
      if ((data.fire_alarm || "") !== (root.dataset.fireAlarm || "")) {
        window.location.reload();
        return;
      }
      document.title = data.title;
      root.querySelectorAll("[data-pending-count]").forEach((el) => { el.textContent = data.count; });
      empty.hidden = data.count > 0;
      const waiting = new Set(data.requests.map((item) => String(item.id)));
      for (const card of cards()) {
        if (!waiting.has(card.dataset.requestId)) settled(card);
      }
      const added = [];
      let previous = null;
      for (const item of data.requests) {
        let card = list.querySelector(`:scope > [data-request-id="${item.id}"]`);
        if (!card) {
          card = fromHtml(item.html);
          markNew(card);
          if (previous) previous.after(card); else list.prepend(card);
          added.push(item.person);
        } else if (card.dataset.version !== String(item.version) && !beingUsed(card)) {
          const fresh = fromHtml(item.html); // e.g. a first of two approvals given elsewhere
          card.replaceWith(fresh);
          card = fresh;
        }
        previous = card;
      }
      if (added.length === 1) status.textContent = `New request: ${added[0]}.`;
      else if (added.length > 1) status.textContent = `${added.length} new requests: ${added.join(", ")}.`;
    }

    // Decided on another tablet, or expired: say so rather than let the card vanish.
    function settled(card) {
      const name = card.dataset.person || "This request";
      const note = document.createElement("p");
      note.textContent = `${name}: no longer waiting (decided by another SLT member, or expired).`;
      card.replaceChildren(note);
      card.classList.add("gone");
      card.removeAttribute("data-request-id");
    }

    function markNew(card) {
      card.classList.add("is-new");
      const tag = document.createElement("span");
      tag.className = "tag new";
      tag.textContent = "New";
      card.querySelector(".card-head")?.append(tag);
    }

    function beingUsed(card) {
      return card.contains(document.activeElement)
        || [...card.querySelectorAll("input[type=text], input:not([type])")].some((i) => i.value);
    }

    function fromHtml(html) {
      const template = document.createElement("template");
      template.innerHTML = html.trim();
      return template.content.querySelector("[data-request-id]");
    }

    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && timer !== null) {
        window.clearTimeout(timer);
        poll();
      }
    });
    schedule();
  }

  // --- the request form: show only the fields of the chosen kind of window ---
  const form = document.getElementById("request-form");
  if (form) {
    const show = () => {
      const chosen = form.querySelector("input[name=when]:checked")?.value;
      form.querySelectorAll(".when-fields").forEach((fields) => {
        fields.hidden = fields.dataset.when !== chosen;
      });
    };
    form.addEventListener("change", (event) => { if (event.target.name === "when") show(); });
    show();
  }
})();
