// Accessibility fix for the sliders of the static book pages (listed in _config.yml under
// nb_ipywidgets_js, so it loads on pages with widgets, before the widget manager).
// ipywidgets draws a slider with noUiSlider, whose handle (role="slider", the element that takes
// the keyboard) has no accessible name: the widget's visible <label> is not tied to it. A screen
// reader would announce "slider, 32". Give each handle its label's text ("latent size"), as
// aria-label, whenever the widget manager renders one.
(function () {
  "use strict";
  var UNNAMED = ".noUi-handle[role=slider]:not([aria-label]):not([aria-labelledby])";
  function nameHandles() {
    document.querySelectorAll(UNNAMED).forEach(function (handle) {
      var widget = handle.closest(".widget-slider, .jupyter-widget-slider, .widget-inline-hbox");
      var label = widget && widget.querySelector(".widget-label");
      var text = label && label.textContent.trim();
      if (text) handle.setAttribute("aria-label", text);
    });
  }
  new MutationObserver(nameHandles).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener("DOMContentLoaded", nameHandles);
})();
