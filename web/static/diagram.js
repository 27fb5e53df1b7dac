// Draws the request's diagram with bpmn-js and marks done and current steps.
// The same information is in the page's history list, so the page works without it.
(function () {
  "use strict";
  var el = document.getElementById("diagram");
  if (!el || typeof window.BpmnJS === "undefined") {
    if (el) { el.classList.add("diagram-fallback"); el.textContent = el.getAttribute("aria-label"); }
    return;
  }
  var split = function (s) { return (s || "").split(",").filter(Boolean); };
  var viewer = new window.BpmnJS({ container: el });
  fetch(el.dataset.src, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      split(el.dataset.done).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "step-done"); } });
      split(el.dataset.current).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "step-current"); } });
      canvas.zoom("fit-viewport");
    })
    .catch(function () { el.classList.add("diagram-fallback"); el.textContent = el.getAttribute("aria-label"); });
})();
