/* The owner's dashboard charts: Chart.js (served by us) fed by the page's json_script. */
(function () {
  "use strict";
  var source = document.getElementById("report-charts");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var palette = ["#417690", "#79aec8", "#5b9a68", "#e0a030", "#c75050", "#8a5a9e", "#999999"];
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return null; }
    var chart = new Chart(canvas, config);
    canvas.setAttribute("data-drawn", "true");
    return chart;
  }

  function follow(links) {
    return function (event, elements) {
      if (!elements.length) { return; }
      var element = elements[0];
      var url = links(element.datasetIndex, element.index);
      if (url) { window.location.href = url; }
    };
  }

  var mrr = data.mrr;
  var datasets = mrr.movements.map(function (movement, i) {
    return { type: "bar", label: movement.label, data: movement.values, stack: "moves",
             backgroundColor: palette[i % palette.length] };
  });
  datasets.push({ type: "line", label: mrr.mrr_label, data: mrr.mrr, borderColor: "#264b5d",
                  backgroundColor: "#264b5d", yAxisID: "y" });
  draw("chart-mrr", {
    type: "bar",
    data: { labels: mrr.labels, datasets: datasets },
    options: {
      scales: { x: { stacked: true }, y: { stacked: false } },
      onClick: follow(function (set, index) {
        var movement = mrr.movements[set];
        return movement ? movement.links[index] : "";
      })
    }
  });

  draw("chart-churn", {
    type: "line",
    data: { labels: data.churn.labels, datasets: data.churn.series.map(function (s, i) {
      return { label: s.label, data: s.values, borderColor: palette[i + 3], backgroundColor: palette[i + 3] };
    }) },
    options: { scales: { y: { beginAtZero: true } } }
  });

  draw("chart-revenue", {
    type: "bar",
    data: { labels: data.revenue.labels,
            datasets: [{ label: data.revenue.label, data: data.revenue.values, backgroundColor: palette[0] }] },
    options: { indexAxis: "y" }
  });

  draw("chart-arrears", {
    type: "bar",
    data: { labels: data.arrears.labels,
            datasets: [{ label: data.arrears.label, data: data.arrears.values, backgroundColor: palette[4] }] },
    options: { onClick: follow(function (set, index) { return data.arrears.links[index]; }) }
  });

  draw("chart-classes", {
    type: "bar",
    data: { labels: data.classes.labels,
            datasets: [{ label: data.classes.label, data: data.classes.values, backgroundColor: palette[2] }] },
    options: { scales: { y: { beginAtZero: true, max: 100 } } }
  });

  draw("chart-tenders", {
    type: "doughnut",
    data: { labels: data.tenders.labels,
            datasets: [{ data: data.tenders.values, backgroundColor: palette }] }
  });
})();
