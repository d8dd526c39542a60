// Reload the page every N seconds while it shows an element with data-refresh="N"
// (an admin job running); no inline script, so the Content-Security-Policy allows it.
(function () {
  var marked = document.querySelector("[data-refresh]");
  if (!marked) { return; }
  var seconds = parseInt(marked.getAttribute("data-refresh"), 10) || 3;
  window.setTimeout(function () {
    var url = new URL(window.location.href);
    url.searchParams.delete("started");
    url.searchParams.delete("notice");
    window.location.replace(url.toString());
  }, seconds * 1000);
})();
