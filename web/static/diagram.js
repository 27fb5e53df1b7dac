// Draws the request's diagram with bpmn-js and marks done (✓) and current (●) steps with a colour AND a
// symbol (never colour alone). The same information is in the page's history list, so the page works without it.
(function () {
  "use strict";
  var el = document.getElementById("diagram");
  if (!el || typeof window.BpmnJS === "undefined") {
    if (el) { el.classList.add("diagram-fallback"); el.textContent = el.getAttribute("aria-label"); }
    return;
  }
  var split = function (s) { return (s || "").split(",").filter(Boolean); };
  var symbol = function (kind, text) {
    var span = document.createElement("span");
    span.className = "step-symbol " + kind;
    span.textContent = text;
    span.setAttribute("aria-hidden", "true");
    return span;
  };
  var viewer = new window.BpmnJS({ container: el });
  fetch(el.dataset.src, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var overlays = viewer.get("overlays");
      var mark = function (ids, marker, kind, text) {
        ids.forEach(function (id) {
          var shape = registry.get(id);
          if (!shape || shape.waypoints) { return; }
          canvas.addMarker(id, marker);
          overlays.add(id, { position: { top: -12, right: 12 }, html: symbol(kind, text) });
        });
      };
      var current = split(el.dataset.current);
      mark(split(el.dataset.done).filter(function (id) { return current.indexOf(id) < 0; }), "step-done", "done", "✓");
      mark(current, "step-current", "current", "●");
      var fit = canvas.zoom("fit-viewport");
      if (fit < 0.75) { canvas.zoom(0.75, { x: 0, y: 0 }); }  // keep labels readable; the container scrolls
    })
    .catch(function () { el.classList.add("diagram-fallback"); el.textContent = el.getAttribute("aria-label"); });
})();
