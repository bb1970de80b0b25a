// Alt+R on any page, whatever has focus: the roll call, printed. (The same key on a Mac's
// Option key; event.code names the key, not the character it would type.)
document.addEventListener("keydown", (event) => {
  if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyR" && !event.repeat) {
    event.preventDefault();
    window.location.assign(document.querySelector(".rollcall-button").href);
  }
});

// The top bar's menus (details elements, which open and close without this): one open at a
// time, and a click elsewhere or Escape closes them, as a menu does.
const menus = () => document.querySelectorAll(".topbar details.menu");
const closeMenus = (except) => menus().forEach((menu) => {
  if (menu !== except) menu.open = false;
});
document.addEventListener("toggle", (event) => {
  if (event.target.matches?.(".topbar details.menu") && event.target.open) closeMenus(event.target);
}, true);
document.addEventListener("click", (event) => {
  if (!event.target.closest(".topbar details.menu")) closeMenus(null);
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const open = [...menus()].find((menu) => menu.open);
  if (open) {
    open.open = false;
    open.querySelector("summary").focus();
  }
});
