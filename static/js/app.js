// Small progressive enhancements; pages work without them. Loaded in <head>, not deferred (see base.html).
document.documentElement.classList.add("js");

// The phone menu: the button opens and closes the nav (its groups open with it); on wide screens
// the groups are dropdowns, one open at a time, closed by a click elsewhere or Escape.
const navGroups = () => document.querySelectorAll("#site-nav details.nav-group");
document.addEventListener("click", (event) => {
  const toggle = event.target.closest(".menu-toggle");
  if (toggle) {
    const nav = document.getElementById(toggle.getAttribute("aria-controls"));
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("is-open", open);
    navGroups().forEach((group) => { group.open = open; });
    return;
  }
  if (document.querySelector("#site-nav.is-open")) return;
  navGroups().forEach((group) => {
    if (!group.contains(event.target)) group.open = false;
  });
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || document.querySelector("#site-nav.is-open")) return;
  navGroups().forEach((group) => { group.open = false; });
});
document.addEventListener("DOMContentLoaded", () => {
  const here = window.location.pathname;
  document.querySelectorAll("#site-nav a[href]").forEach((link) => {
    if (link.getAttribute("href") === here) link.setAttribute("aria-current", "page");
  });
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.textContent.trim()).then(() => {
      button.textContent = "Copied";
    });
  }
});

// The browser's time zone for the pages' times (core/timezones.py reads the cookie).
(() => {
  // IANA names ("America/Argentina/Buenos_Aires", "Etc/GMT+3") are valid cookie values as they are.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && /^[\w+\-/]+$/.test(zone) && !document.cookie.split("; ").includes(`tz=${zone}`)) {
    document.cookie = `tz=${zone}; path=/; max-age=31536000; SameSite=Lax`;
  }
})();
