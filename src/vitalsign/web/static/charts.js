// Draw every chart of the page: each <div data-figure="ID"> reads its figure from the
// <script type="application/json" id="ID"> beside it (no inline scripts: see the CSP header).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-figure]").forEach(function (div) {
    var source = document.getElementById(div.dataset.figure);
    if (!source || typeof Plotly === "undefined") { return; }
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(div, figure.data, figure.layout, { displayModeBar: false, responsive: true });
  });
});
