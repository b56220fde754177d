// PromptLedger console: small progressive enhancements. Every page works without it.
"use strict";

// Let htmx show our error fragments (4xx/5xx) in place instead of dropping them.
document.addEventListener("htmx:beforeSwap", function (event) {
  var status = event.detail.xhr.status;
  if (status >= 400 && status !== 401) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// <form data-confirm="..."> asks before submitting (revoking a key, ...).
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// <button data-copy="#id"> copies the text of an element.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.querySelector(button.getAttribute("data-copy"));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    var was = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = was; }, 1500);
  });
});

// A link to a closed <details> (a trace's span, from its waterfall row) opens it.
function openTarget() {
  var target = location.hash && document.getElementById(location.hash.slice(1));
  if (target && target.tagName === "DETAILS") target.open = true;
}
window.addEventListener("hashchange", openTarget);
document.addEventListener("DOMContentLoaded", openTarget);
