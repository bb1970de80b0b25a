// The kiosk's pairing page: an on-screen keypad for the one-time code, grouped as K7QM-3XPD.
// A QR code's link carries the code in its fragment (/kiosk/pair#code=...), which browsers
// never send to the server: it is read here, taken out of the address, and submitted.
(() => {
  "use strict";
  const ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"; // register/kiosks.py CODE_ALPHABET
  const LENGTH = 8;
  const form = document.getElementById("pair-form");
  const field = document.getElementById("code");
  const keys = document.getElementById("pair-keys");

  const bare = (text) => text.toUpperCase().replace(/[^0-9A-Z]/g, "").slice(0, LENGTH);
  const grouped = (code) => (code.length > 4 ? `${code.slice(0, 4)}-${code.slice(4)}` : code);
  const show = (code) => { field.value = grouped(code); };

  ALPHABET.split("").forEach((key) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = key;
    button.addEventListener("click", () => show(bare(field.value + key)));
    keys.insertBefore(button, document.getElementById("pair-delete"));
  });
  document.getElementById("pair-delete").addEventListener("click", () => {
    show(bare(field.value).slice(0, -1));
  });
  // Taps on the keypad leave the focus (and a touch keyboard, if any) where it was.
  keys.addEventListener("mousedown", (event) => event.preventDefault());
  field.addEventListener("input", () => show(bare(field.value)));

  const match = /(?:^#|&)code=([^&]*)/.exec(window.location.hash);
  if (match) {
    history.replaceState(null, "", window.location.pathname); // the code leaves the address
    show(bare(decodeURIComponent(match[1])));
    if (bare(field.value).length === LENGTH) {
      document.getElementById("pair-submit").textContent = "Pairing…";
      form.requestSubmit();
    }
  }
})();
