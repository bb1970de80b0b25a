// Alt+R on any page, whatever has focus: the roll call, printed. (The same key on a Mac's
// Option key; event.code names the key, not the character it would type.)
document.addEventListener("keydown", (event) => {
  if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyR" && !event.repeat) {
    event.preventDefault();
    window.location.assign(document.querySelector(".rollcall-button").href);
  }
});
