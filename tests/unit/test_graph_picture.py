"""The quickstart's picture of the state machine, drawn offline (issue 24 item 10)."""

from __future__ import annotations

import io
import json
import socket

import pytest
from PIL import Image

from tests.conftest import ROOT


def test_the_graph_is_drawn_offline_as_a_png(monkeypatch: pytest.MonkeyPatch) -> None:
    from autorust.graph.workflow import graph
    from autorust.reporting.graph_picture import graph_png

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("drawing the graph must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    picture = Image.open(io.BytesIO(graph_png(graph.get_graph())))
    assert picture.format == "PNG" and picture.width > 400 and picture.height > 600
    colours = picture.convert("RGB").getcolors(1 << 20)
    assert colours is not None and len(colours) > 20, "something is drawn"


def test_the_quickstart_ends_with_the_picture() -> None:
    notebook = json.loads((ROOT / "notebooks" / "01_quickstart.ipynb").read_text())
    last = "".join(notebook["cells"][-1]["source"])
    assert "Image(graph_png(graph.get_graph()))" in last and "draw_mermaid_png(" not in last
