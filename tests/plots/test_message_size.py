"""A plot socket never sends part of a Bokeh message that daphne would refuse."""

from __future__ import annotations

from bokeh.protocol import Protocol

from plots.bokeh_server import CLOSE_MESSAGE_TOO_BIG, MAX_MESSAGE_BYTES, PlotSocket


class RecordingSocket(PlotSocket):
    """A plot socket whose websocket is a list of sent frames."""

    def __init__(self):
        super().__init__()
        self.scope = {"path": "/individual-task-stream/ws"}
        self.frames: list[str] = []
        self.closed_with: int | None = None

    async def send(self, text_data=None, bytes_data=None, close=False):
        self.frames.append(text_data if text_data is not None else bytes_data)

    async def close(self, code=None, reason=None):
        self.closed_with = code


async def test_oversized_message_closes_socket():
    socket = RecordingSocket()
    message = Protocol().create("ERROR", "request-1", "x" * (MAX_MESSAGE_BYTES + 1))
    sent = await socket._send_bokeh_message(message)
    assert sent == 0
    assert socket.frames == []
    assert socket.closed_with == CLOSE_MESSAGE_TOO_BIG


async def test_small_message_is_sent_whole():
    socket = RecordingSocket()
    message = Protocol().create("ERROR", "request-1", "a short error")
    sent = await socket._send_bokeh_message(message)
    assert sent > 0
    assert len(socket.frames) == 3
    assert socket.closed_with is None
