// Items page: "select all on this page" ticks every row's box (no inline script: CSP).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    if (event.target.id !== "select-all") return;
    document.querySelectorAll('#bulk-form input[name="items"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });
})();
