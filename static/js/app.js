// Small progressive enhancements; pages work without them.
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
