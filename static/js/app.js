// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // "/" focuses the page's search or first filter field, as in most web apps.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var search = document.querySelector("[data-search]");
    if (search) { event.preventDefault(); search.focus(); }
  });
  // After htmx swaps in content marked data-autofocus, move the focus there (announced by screen readers).
  document.addEventListener("htmx:afterSwap", function (event) {
    var focus = event.detail.target.querySelector("[data-autofocus]");
    if (focus) focus.focus();
  });
})();
