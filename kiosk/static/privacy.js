/* The privacy notice opened from the kiosk (templates/privacy_kiosk.html): back to the kiosk
   screen after data-idle-seconds untouched, so a kiosk is never left showing the notice. A
   touch, a scroll or a click starts the wait again. A key is a scanner (a kiosk has no
   keyboard): someone wants to scan, so the kiosk comes back at once, ready for the next scan. */
(() => {
  "use strict";

  const body = document.body;
  const backUrl = body.dataset.backUrl;
  const idleMs = Number(body.dataset.idleSeconds || 120) * 1000;
  if (!backUrl) return;
  let timer = null;

  const back = () => window.location.replace(backUrl);
  const wait = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(back, idleMs);
  };

  ["pointerdown", "touchstart", "scroll", "wheel"].forEach((name) =>
    window.addEventListener(name, wait, { passive: true }));
  window.addEventListener("keydown", (event) => {
    if (event.key !== "Tab" && event.key !== "Shift") back();
  });
  wait();
})();
