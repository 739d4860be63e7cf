"""The screenshot key inside modal screens: a modal blocks the app's own bindings, and the
detail of a flow is what people most often want a picture of."""

from __future__ import annotations

from textual.binding import Binding

SHOT = Binding("s", "app.shot", "Shot", id="screenshot-modal",
               tooltip="Save a screenshot (SVG and PNG) of this screen")
