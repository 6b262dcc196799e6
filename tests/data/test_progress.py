"""Decoding an image archive shows its progress line on a terminal unless ``logger.progress`` is off."""

import io
import sys

import pytest

from autobalance.data.progress import data_progress, decoding


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("shown", "printed"), [(True, True), (False, False)])
def test_the_decoding_line_follows_logger_progress(monkeypatch, shown, printed):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with data_progress(shown):
        assert list(decoding(range(3), "images.tar.gz")) == [0, 1, 2]
    assert ("decoding images.tar.gz (once; cached after)" in terminal.getvalue()) == printed


def test_a_log_file_gets_no_progress_line(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    list(decoding(range(3), "images.tar.gz"))
    assert log.getvalue() == ""
