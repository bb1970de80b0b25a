// The Print buttons on the printable pages: the browser's own print dialog.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});

// A page opened to be printed (?print=1) carries data-print-on-load: it prints once loaded,
// then takes the address it names in place of its own, so that reloading does not print again.
(() => {
  const marker = document.querySelector("[data-print-on-load]");
  if (!marker) return;
  window.addEventListener("load", () => {
    window.print();
    if (marker.dataset.printOnLoad) history.replaceState(null, "", marker.dataset.printOnLoad);
  });
})();
