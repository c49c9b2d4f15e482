/* Dashboards: charts (Chart.js) and the few interactions. Data comes from JSON blocks
   (<script type="application/json">), read with JSON.parse: never from HTML strings. */
(function () {
  "use strict";

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var INK = "#1b1f24", BLUE = "#1f5fbf", ORANGE = "#b35900", GREY = "#8a94a3", RED = "#a11d2a";

  function overviewChart() {
    var d = data("overview-data"), canvas = document.getElementById("overview-chart");
    if (!d || !canvas || !window.Chart) return;
    new Chart(canvas, {
      type: "line",
      data: { labels: d.labels, datasets: [
        { label: "Touchpoints", data: d.touchpoints, borderColor: BLUE, backgroundColor: BLUE, yAxisID: "y", tension: 0.2 },
        { label: "People", data: d.people, borderColor: ORANGE, backgroundColor: ORANGE, yAxisID: "y1", tension: 0.2, borderDash: [6, 3] }
      ] },
      options: { maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, title: { display: true, text: "Touchpoints", color: INK } },
                  y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
                        title: { display: true, text: "People", color: INK } } } }
    });
  }

  function funnelChart() {
    var d = data("funnel-data"), canvas = document.getElementById("funnel-chart");
    if (!d || !canvas || !window.Chart) return;
    var sets = [
      { label: "Reached", data: d.reached, backgroundColor: BLUE },
      { label: "Dropped after", data: d.dropped, backgroundColor: RED },
      { label: "In progress", data: d.in_progress, backgroundColor: ORANGE }
    ];
    if (d.previous) sets.push({ label: "Reached, previous period", data: d.previous, backgroundColor: GREY });
    var chart = new Chart(canvas, {
      type: "bar", data: { labels: d.labels, datasets: sets },
      options: { maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true } },
        onClick: function (event, elements) {
          // A click on a stage's "dropped" bar opens the list of those people.
          if (!elements.length || !d.drop_links) return;
          var el = elements[0];
          if (chart.data.datasets[el.datasetIndex].label === "Dropped after" && d.drop_links[el.index]) {
            window.location.href = d.drop_links[el.index];
          }
        } }
    });
  }

  function liveCount() {
    var box = document.getElementById("live");
    if (!box || !window.fetch) return;
    setInterval(function () {
      fetch(box.getAttribute("data-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (!j) return;
          document.getElementById("live-people").textContent = j.people.toLocaleString();
          document.getElementById("live-touchpoints").textContent = j.touchpoints.toLocaleString();
        })
        .catch(function () { /* offline for a moment: keep the last figure */ });
    }, 30000);
  }

  function autoSubmit() {
    // Selects marked data-autosubmit (breakdown, comparison) apply at once; the button stays for no-JS.
    Array.prototype.forEach.call(document.querySelectorAll("[data-autosubmit]"), function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
  }

  function renumber(box) {
    Array.prototype.forEach.call(box.querySelectorAll("fieldset[data-row]"), function (row, i) {
      var legend = row.querySelector("legend"), remove = row.querySelector("[data-remove]");
      var word = row.getAttribute("data-row") === "stage" ? "Stage " : "Exclusion ";
      legend.textContent = word + (i + 1);
      remove.textContent = "Remove " + word.toLowerCase() + (i + 1);
    });
  }

  function editor() {
    // Add and remove rows of stages and exclusions; without JS one blank row is always there.
    var form = document.getElementById("journey-form");
    if (!form) return;
    form.addEventListener("click", function (event) {
      var target = event.target;
      if (target.hasAttribute("data-add")) {
        var box = document.getElementById(target.getAttribute("data-add"));
        var rows = box.querySelectorAll("fieldset[data-row]");
        var copy = rows[rows.length - 1].cloneNode(true);
        Array.prototype.forEach.call(copy.querySelectorAll("input"), function (input) {
          input.value = ""; input.removeAttribute("aria-invalid"); input.removeAttribute("aria-describedby");
        });
        Array.prototype.forEach.call(copy.querySelectorAll(".error"), function (e) { e.remove(); });
        box.appendChild(copy);
        renumber(box);
        copy.querySelector("input").focus();
      } else if (target.hasAttribute("data-remove")) {
        var row = target.closest("fieldset"), parent = row.parentNode;
        if (parent.querySelectorAll("fieldset[data-row]").length > 1) {
          row.remove();
        } else {
          Array.prototype.forEach.call(row.querySelectorAll("input"), function (input) { input.value = ""; });
        }
        renumber(parent);
      }
    });
    var errors = document.getElementById("errors") || document.getElementById("preview");
    if (errors) errors.focus();
  }

  function confirmations() {
    // A button marked data-confirm (delete) asks first.
    document.addEventListener("click", function (event) {
      var target = event.target.closest ? event.target.closest("[data-confirm]") : null;
      if (target && !window.confirm(target.getAttribute("data-confirm"))) event.preventDefault();
    });
  }

  function automationForms() {
    // Show the fields a trigger uses (stage, days, the contact rule); without JS all are shown.
    Array.prototype.forEach.call(document.querySelectorAll("form.automation-form"), function (form) {
      var select = form.querySelector("[data-trigger]");
      function update() {
        Array.prototype.forEach.call(form.querySelectorAll("[data-for]"), function (el) {
          el.hidden = el.getAttribute("data-for").split(" ").indexOf(select.value) < 0;
        });
      }
      select.addEventListener("change", update);
      update();
    });
    var errors = document.querySelector("form.automation-form") && document.getElementById("errors");
    if (errors) errors.focus();
  }

  function day0Chart() {
    var d = data("day0-data"), canvas = document.getElementById("day0-chart");
    if (!d || !canvas || !window.Chart) return;
    var colours = [BLUE, ORANGE, RED, GREY, "#17663a", "#6a3d9a", "#0b3d8a", "#7a4b00"];
    new Chart(canvas, {
      type: "line",
      data: { labels: d.labels, datasets: d.series.map(function (s, i) {
        var c = colours[i % colours.length];
        return { label: s.label, data: s.data, borderColor: c, backgroundColor: c, spanGaps: false, tension: 0.2 };
      }) },
      options: { maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true, max: 1, ticks: { callback: function (v) { return Math.round(v * 100) + " %"; } } } },
        plugins: { tooltip: { callbacks: { label: function (c) {
          return c.dataset.label + ": " + (c.parsed.y === null ? "–" : Math.round(c.parsed.y * 100) + " %");
        } } } } }
    });
  }

  window.Dashboards = { data: data };
  confirmations();
  automationForms();
  day0Chart();
  editor();
  overviewChart();
  funnelChart();
  liveCount();
  autoSubmit();
})();
