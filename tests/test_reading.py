import gzip
import io
import subprocess

import pytest

from logdoc.source.reading import InputError, clean_line, iter_lines, lines_from_text, read_lines, render_cursor


def test_line_numbers_match_grep_n(tmp_path):
    data = b"a\r\nb\rstill b\n\nloss 1\nno newline at end"
    path = tmp_path / "x.log"
    path.write_bytes(data)
    ours = [(l.no, l.text) for l in read_lines(str(path)) if "b" in l.text]
    grep = subprocess.run(["grep", "-n", "b", str(path)], capture_output=True).stdout.decode()
    assert [no for no, _ in ours] == [int(x.split(":")[0]) for x in grep.split("\n") if x]
    assert len(list(read_lines(str(path)))) == 5


def test_carriage_return_keeps_final_frame():
    assert clean_line(b" 10%|#   | 1/10\r 50%|#####| 5/10\r100%|##########| 10/10") == "100%|##########| 10/10"


def test_shorter_redraw_leaves_the_tail_visible_like_a_terminal():
    assert render_cursor("abcdef\rXY") == "XYcdef"


def test_crlf_is_not_content():
    assert clean_line(b"Epoch 1/3\r") == "Epoch 1/3"


def test_keras_backspace_redraw():
    assert clean_line(b"1/10 [..] - loss: 0.9" + b"\b" * 21 + b"\r10/10 [==] - loss: 0.5") == "10/10 [==] - loss: 0.5"


def test_ansi_and_osc_are_stripped():
    raw = b"\x1b[1m3/3\x1b[0m \x1b[32m\xe2\x94\x81\x1b[0m \x1b]0;title\x07- loss: 0.1\x1b[K"
    assert clean_line(raw) == "3/3 \u2501 - loss: 0.1"


def test_control_characters_never_survive():
    out = clean_line(b"bell\x07 csi\xc2\x9b31m nul-ish\x1b")
    assert out.isprintable()


def test_invalid_utf8_is_replaced_not_fatal():
    assert clean_line(b"loss \xff\xfe 0.5") == "loss \ufffd\ufffd 0.5"


def test_mojibake_is_repaired():
    broken = "[STEP] Δparam L2: median=0.0".encode().decode("cp1252").encode()
    assert clean_line(broken) == "[STEP] Δparam L2: median=0.0"


def test_real_non_ascii_text_is_left_alone():
    assert clean_line("Epoch 0: 100%|█████| 10/10 café".encode()) == "Epoch 0: 100%|█████| 10/10 café"


def test_gzip_is_detected_by_magic(tmp_path):
    path = tmp_path / "run.txt"              # no .gz extension on purpose
    path.write_bytes(gzip.compress(b"a\nb\n"))
    assert [l.text for l in read_lines(str(path))] == ["a", "b"]


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\x00\x01\x02binary", "binary"),
    (gzip.compress(b"a\n" * 1000, mtime=0)[:-8] + b"\0\0\0\0\0\0\0\0", "corrupt gzip"),   # a wrong CRC
    (gzip.compress(b"a\n" * 1000, mtime=0)[:10], "truncated gzip data: cut at byte 10, before any text"),
], ids=["empty", "binary", "bad-crc", "cut-header"])   # a gzip cut after some text is read up to the cut (tests/test_truncated_gzip.py)
def test_bad_inputs_raise_input_error(tmp_path, data, message):
    path = tmp_path / "bad.log"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        list(read_lines(str(path)))


def test_missing_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(read_lines(str(tmp_path / "nope.log")))
    with pytest.raises(InputError, match="directory"):
        list(read_lines(str(tmp_path)))


def test_lines_split_across_chunks():
    data = b"x" * 10 + b"\n" + b"y" * 5
    stream = io.BufferedReader(io.BytesIO(data), buffer_size=4)
    assert [l.text for l in iter_lines(stream, "t")] == ["x" * 10, "y" * 5]


def test_lines_from_text():
    assert [l.no for l in lines_from_text("a\nb\n")] == [1, 2]


def test_blocks_know_where_they_are_in_the_stream():
    # the parse worker sends offsets instead of bytes (logdoc.engine.pipeline): they must be exact,
    # also after a line longer than MAX_LINE was cut short
    import io
    import random

    from logdoc.source.reading import MAX_LINE, iter_blocks_at

    class Chunks(io.BytesIO):
        def __init__(self, data, size):
            super().__init__(data)
            self.size = size

        def read1(self, n=-1):
            return self.read(self.size)

    rng = random.Random(5)
    for _ in range(20):
        parts = [b"x" * rng.randint(MAX_LINE - 10, MAX_LINE + 5000) + b"\r" + b"tail" * rng.randint(0, 3)
                 if rng.random() < 0.05 else b"line %d" % i for i in range(rng.randint(1, 50))]
        data = b"\n".join(parts) + (b"\n" if rng.random() < 0.5 else b"")
        blocks = list(iter_blocks_at(Chunks(data, rng.randint(1, 100_000)), "t"))
        assert blocks
        for _, offset, block in blocks:
            assert data[offset:offset + len(block)] == block


def test_a_tab_is_a_column_gap_and_a_tab_separated_table_is_read_by_name(tmp_path):
    # ChainerRL's scores.txt, XGBoost's "[0]\ttrain-logloss:…": a tab separates columns, so it
    # reads as a gap of two spaces (one space would merge "Train Loss" into a header name)
    from logdoc.source.reading import clean_line
    from logdoc import api

    assert clean_line(b"steps\tepisodes\tmean") == "steps  episodes  mean"
    log = tmp_path / "scores.txt"
    log.write_bytes(b"steps\tepisodes\telapsed\tmean\taverage_v\n"
                    b"50099\t52\t992.45\t-19.8\t[-2.17921662]\n100524\t96\t2090.0\t-18.6\t[-1.29]\n")
    result = api.analyze(str(log))
    assert result.records == 2
