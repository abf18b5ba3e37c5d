// ExisOne dashboard: copy-to-clipboard buttons and confirmations. No inline scripts (CSP).
"use strict";
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) return;
  var text = field.value !== undefined ? field.value : field.textContent;
  var done = function () {
    var label = button.textContent;
    button.textContent = "Copied";
    button.classList.add("copied");
    setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { field.select(); document.execCommand("copy"); done(); });
  } else {
    field.select();
    document.execCommand("copy");
    done();
  }
});
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
// The e-mail template editor's live preview: the subject and text as JSON, the HTML part in a
// sandboxed frame (its own document, with the preview's own CSP).
(function () {
  var editor = document.getElementById("template-editor");
  if (!editor) return;
  var frameName = editor.getAttribute("data-preview-frame");
  var timer = null;
  var show = function (result) {
    var error = document.getElementById("preview-error");
    error.hidden = result.ok;
    error.textContent = result.ok ? "" : result.error;
    if (result.ok) {
      document.getElementById("preview-subject").textContent = result.subject;
      document.getElementById("preview-text").textContent = result.text;
    }
  };
  var refresh = function () {
    fetch(editor.getAttribute("data-preview"), {
      method: "POST", body: new FormData(editor), credentials: "same-origin"
    }).then(function (response) { return response.json(); }).then(show);
    var action = editor.getAttribute("action");
    editor.setAttribute("action", editor.getAttribute("data-preview-html"));
    editor.setAttribute("target", frameName);
    editor.submit();
    editor.setAttribute("action", action);
    editor.removeAttribute("target");
  };
  editor.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  refresh();
})();
