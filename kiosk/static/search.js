/* Search as you type, on the office's people list and on "Record a request".

   A search box with data-live-search="URL" sends its form to URL by POST as the text changes
   (never in the address: the text may be IMEI digits), and puts the answer's rows into the
   element named by its data-results and its sentence into data-summary. Without this script
   the form still works: it is an ordinary search form. */
(() => {
  "use strict";

  const WAIT_MS = 250; // after the last key, so a name typed quickly is one search
  const csrf = document.querySelector('meta[name="csrf-token"]');

  document.querySelectorAll("input[data-live-search]").forEach((input) => {
    const form = input.form;
    const results = document.getElementById(input.dataset.results);
    const summary = document.getElementById(input.dataset.summary);
    if (!results || !form) return;
    let timer = null;
    let asked = 0; // answers can arrive out of order: only the latest question's is shown
    let lastSent = null;

    function soon() {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, WAIT_MS);
    }

    async function search() {
      const body = new FormData(form);
      const key = new URLSearchParams(body).toString();
      if (key === lastSent) return;
      lastSent = key;
      const mine = ++asked;
      form.setAttribute("aria-busy", "true");
      try {
        const response = await fetch(input.dataset.liveSearch, {
          method: "POST", body, credentials: "same-origin", cache: "no-store",
          headers: { Accept: "application/json", "X-CSRFToken": csrf ? csrf.content : "" },
        });
        if (mine !== asked) return;
        if (response.redirected || response.status === 401 || response.status === 403) {
          say("You have been signed out: reload the page to sign in again.");
          return;
        }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const answer = await response.json();
        if (mine !== asked) return;
        results.innerHTML = answer.html; // rendered and escaped by the server's templates
        say(answer.summary);
      } catch (_error) {
        if (mine === asked) {
          lastSent = null; // try again at the next key
          say("Could not search just now: press Search, or try again in a moment.");
        }
      } finally {
        if (mine === asked) form.removeAttribute("aria-busy");
      }
    }

    function say(text) {
      if (summary) summary.textContent = text;
    }

    input.addEventListener("input", soon);
    form.querySelectorAll("select, input[type=checkbox]").forEach((field) => {
      field.addEventListener("change", soon);
    });
  });
})();
