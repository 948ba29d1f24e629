"""Arbitrary bytes never crash logdoc: exit 0, 1 or 2, and no traceback."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logdoc.cli import main

LOGGY = st.lists(st.sampled_from([
    b"[LR] epoch=1 groups=['a'] lr=[0.0]", b"Epoch 001/030: train nan  val inf", b"val loss: -inf",
    b"[STEP] \xce\x94param L2: median=0.0  max=0.0", b"\r", b"\x1b[31m", b"\xff\xfe", b"\n", b"\x08",
    b"Epoch 1/2: train 1e309  val 1e-400", b"[LR] epoch=99999999999999999999 lr=[,,]",
]), max_size=30).map(b"".join)


# 60 examples in the suite (LOGDOC_FUZZ_EXAMPLES for more); the 10,000-mutant corpus fuzz is
# benchmarks/fuzz_corpus.py (a script, not a test)
@settings(max_examples=int(__import__("os").environ.get("LOGDOC_FUZZ_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=2000), LOGGY))
def test_arbitrary_bytes_never_crash(tmp_path_factory, capsys, data):
    path = tmp_path_factory.mktemp("fuzz") / "x.log"
    path.write_bytes(data)
    for fmt in ("json", "terminal"):
        code = main(["analyze", str(path), "--format", fmt])
        out, err = capsys.readouterr()
        assert code in (0, 1, 2, 5)
        assert "internal error" not in err and "Traceback" not in err
        if code == 2:
            assert err.count("\n") == 1


@settings(max_examples=int(__import__("os").environ.get("LOGDOC_FUZZ_EXAMPLES", "60")), deadline=None)
@given(data=st.one_of(st.binary(max_size=3000), LOGGY), chunk=st.sampled_from([50, 700, 1 << 20]),
       arrow=st.booleans())
def test_arbitrary_bytes_read_with_numpy_give_the_line_by_line_report(data, chunk, arrow):
    # the NumPy parser (forced on every block, learning cuts at the third repeat) on any input:
    # no crash, and the report of the line-by-line parser, as text
    import json

    from logdoc.source.reading import InputError, iter_blocks, lines_from_text
    from logdoc.engine.session import Session
    from streams import Trickle, vector_everywhere

    try:
        want = json.dumps(Session("x").feed_all(lines_from_text(data)).to_json())
    except InputError:
        return
    with vector_everywhere(arrow):
        got = json.dumps(Session("x").feed_blocks(iter_blocks(Trickle(data, chunk), "x")).to_json())
    assert got == want
