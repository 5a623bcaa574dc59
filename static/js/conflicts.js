// The conflicts page decides items through htmx; a refused decision (400) is not swapped in by
// htmx, so its reason is written under the buttons instead.
(function () {
  "use strict";
  // Django's JavaScript catalog (jsi18n) defines gettext; without it the English text stands.
  const gettext = window.gettext || function (text) { return text; };

  document.addEventListener("htmx:responseError", function (event) {
    const form = event.detail.elt.closest("form.decide");
    if (!form) return;
    const error = form.querySelector(".conflict-error");
    if (error) error.textContent = event.detail.xhr.responseText || gettext("The decision was refused.");
  });
})();
