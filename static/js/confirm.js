// Asks before a form marked data-confirm="question" is sent (removing a member). Lives in a
// file because the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
