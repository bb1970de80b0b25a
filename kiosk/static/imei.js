/* Show beside a masked IMEI (office/person.html): posts the form (its CSRF token, as every
   form) and puts the whole IMEIs it answers in place of "•••• 7518"; the server records who
   looked. Hide puts the last four digits back; showing again asks (and is recorded) again.
   Without this script, or if the answer is not the IMEIs (signed out, say), the form is
   posted as usual and the server's own page answers. */
(() => {
  "use strict";

  const csrf = document.querySelector('meta[name="csrf-token"]');

  document.querySelectorAll("form[data-imei-show]").forEach((form) => {
    const phone = form.closest(".device") || form.parentElement;
    const slots = [...phone.querySelectorAll("[data-imei-slot]")];
    const masked = slots.map((slot) => slot.textContent);
    const button = form.querySelector("button");
    const showLabel = button.getAttribute("aria-label");
    let shown = false;

    function hide() {
      slots.forEach((slot, i) => { slot.textContent = masked[i]; });
      button.textContent = "Show";
      button.setAttribute("aria-label", showLabel);
      shown = false;
    }

    async function show() {
      button.disabled = true;
      try {
        const response = await fetch(form.action, {
          method: "POST", body: new FormData(form), credentials: "same-origin", cache: "no-store",
          headers: { Accept: "application/json", "X-CSRFToken": csrf ? csrf.content : "" },
        });
        const type = response.headers.get("Content-Type") || "";
        if (!response.ok || response.redirected || !type.startsWith("application/json")) {
          form.submit();
          return;
        }
        const answer = await response.json();
        slots.forEach((slot) => { slot.textContent = answer[slot.dataset.imeiSlot] || ""; });
        button.textContent = "Hide";
        button.setAttribute("aria-label", showLabel.replace("Show", "Hide"));
        shown = true;
      } catch (error) {
        form.submit();
      } finally {
        button.disabled = false;
      }
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (shown) hide(); else show();
    });
  });
})();
