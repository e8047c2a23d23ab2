"""Bad input gives a clear InvalidModelError (a ValueError) naming the problem, never a crash,
a hang or a silently wrong model. The fuzz test feeds thousands of seeded mutations of real
models through the importer (and exporter) in a child process, so that a crash would be caught
and reported with its seed."""
import os
import subprocess
import sys

import numpy as np
import pytest

import lce_convert
from lce_convert import InvalidModelError, PassPipelineError
from lce_convert._schema import schema
from lce_convert._tflite_io import model_bytes as pack, model_object as model_t

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_TFLITE = os.path.join(os.path.dirname(HERE), "passes", "test", "Inputs", "make_tflite.py")


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "small.tflite"
    subprocess.run([sys.executable, MAKE_TFLITE, str(path)], check=True)
    return path.read_bytes()


def test_small_model_imports(small_model):
    assert "tfl.fully_connected" in lce_convert.tflite_to_mlir(small_model)


@pytest.mark.parametrize("data, message", [
    (b"", "too short"),
    (b"\x00" * 7, "too short"),
    (b"\x10\x00\x00\x00ABCD" + b"\x00" * 32, "wrong file identifier"),
    (b"\xff\xff\xff\x7fTFL3" + b"\x00" * 32, "outside the"),
    (b"garbage bytes that are not a model", "file identifier"),
])
def test_garbage(data, message):
    with pytest.raises(InvalidModelError, match=message):
        lce_convert.import_tflite(data)


def test_not_bytes():
    with pytest.raises(InvalidModelError, match="expected the model as bytes"):
        lce_convert.import_tflite("model.tflite")


def test_truncated(small_model):
    for n in (8, 16, 64, len(small_model) // 2, len(small_model) - 4):
        with pytest.raises(InvalidModelError):
            lce_convert.import_tflite(small_model[:n])


def test_operator_input_out_of_range(small_model):
    m = model_t(small_model)
    m.subgraphs[0].operators[0].inputs = np.array([0, 99], np.int32)
    with pytest.raises(InvalidModelError, match="operator 0 refers to tensor 99, but the subgraph has 8 tensors"):
        lce_convert.import_tflite(pack(m))


def test_subgraph_output_out_of_range(small_model):
    m = model_t(small_model)
    m.subgraphs[0].outputs = np.array([4, -7], np.int32)
    with pytest.raises(InvalidModelError, match="refers to tensor -7"):
        lce_convert.import_tflite(pack(m))


def test_buffer_index_out_of_range(small_model):
    m = model_t(small_model)
    m.subgraphs[0].tensors[1].buffer = 57
    with pytest.raises(InvalidModelError, match="refers to buffer 57 of 3"):
        lce_convert.import_tflite(pack(m))


def test_buffer_too_large_for_its_tensor(small_model):
    m = model_t(small_model)
    m.buffers[1].data = np.zeros(20, np.uint8)  # a f32[1,4] tensor needs 16 bytes
    with pytest.raises(InvalidModelError, match="buffer 1 has 20 bytes but a FLOAT32 tensor of shape \\[1, 4\\] needs 16"):
        lce_convert.import_tflite(pack(m))


def test_opcode_index_out_of_range(small_model):
    m = model_t(small_model)
    m.subgraphs[0].operators[1].opcodeIndex = 12
    with pytest.raises(InvalidModelError, match="uses operator code 12 of 5"):
        lce_convert.import_tflite(pack(m))


def test_tensor_written_twice(small_model):
    m = model_t(small_model)
    m.subgraphs[0].operators[1].outputs = np.array([2], np.int32)
    with pytest.raises(InvalidModelError, match="writes tensor 2, which already has a value"):
        lce_convert.import_tflite(pack(m))


def test_read_before_write(small_model):
    m = model_t(small_model)
    ops = m.subgraphs[0].operators
    ops[0], ops[1] = ops[1], ops[0]
    with pytest.raises(InvalidModelError, match="reads tensor 2, which no earlier operator writes"):
        lce_convert.import_tflite(pack(m))


def test_unknown_tensor_type(small_model):
    m = model_t(small_model)
    m.subgraphs[0].tensors[2].type = 111
    with pytest.raises(InvalidModelError, match="unknown tensor type 111"):
        lce_convert.import_tflite(pack(m))


def test_signature_to_internal_tensor(small_model):
    m = model_t(small_model)
    m.signatureDefs[0].outputs[0].tensorIndex = 2
    with pytest.raises(InvalidModelError, match="not an output of subgraph 0"):
        lce_convert.import_tflite(pack(m))


def test_bad_subgraph_reference(small_model):
    m = model_t(small_model)
    m.subgraphs[0].operators[4].builtinOptions.initSubgraphIndex = 5
    with pytest.raises(InvalidModelError, match="options refer to subgraph 5 of 2"):
        lce_convert.import_tflite(pack(m))


def test_bad_pipeline(small_model):
    module = lce_convert.import_tflite(small_model)
    with pytest.raises(PassPipelineError, match="no-such-pass"):
        module.run_pipeline("no-such-pass")
    with pytest.raises(TypeError):
        module.run_pipeline(None)
    # The module is still usable after a bad pipeline.
    assert module.run_pipeline("canonicalize").to_tflite()[4:8] == b"TFL3"


def test_bad_mlir_text():
    with pytest.raises(InvalidModelError, match="cannot parse MLIR"):
        lce_convert.Module.parse("func.func @f( {")
    with pytest.raises(InvalidModelError, match="packed dim must be"):
        lce_convert.Module.parse(
            "func.func @f(%x: tensor<1x40xf32>) -> tensor<1x1xi32> {\n"
            "  %0 = lq.Quantize %x : tensor<1x40xf32> -> tensor<1x1xi32>\n"
            "  return %0 : tensor<1x1xi32>\n}")


FUZZ_CHILD = r'''
import sys, time, random
import lce_convert
from lce_convert import InvalidModelError
seeds = [open(p, "rb").read() for p in sys.argv[3:]]
start, count = int(sys.argv[1]), int(sys.argv[2])
deadline = time.time() + 240
stats = {"ok": 0, "rejected": 0}
for i in range(start, start + count):
    if time.time() > deadline:
        break
    rng = random.Random(i)
    data = bytearray(rng.choice(seeds))
    kind = rng.randrange(4)
    if kind == 0:    # flip random bytes
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:  # overwrite a 32-bit word (offsets, lengths, indices)
        p = rng.randrange(len(data) - 4) & ~3
        data[p:p + 4] = rng.choice([0, 1, 0x7fffffff, 0xffffffff, rng.getrandbits(32), len(data)]).to_bytes(4, "little")
    elif kind == 2:  # truncate
        del data[rng.randrange(8, len(data)):]
    else:            # splice a chunk elsewhere
        a, b = sorted(rng.randrange(len(data)) for _ in range(2))
        p = rng.randrange(len(data))
        data[p:p + (b - a)] = data[a:b]
    print("case", i, flush=True, file=sys.stderr)
    try:
        m = lce_convert.import_tflite(bytes(data))
        out = m.to_tflite()
        lce_convert.import_tflite(out)
        stats["ok"] += 1
    except InvalidModelError:
        stats["rejected"] += 1
print(stats["ok"], stats["rejected"])
'''


def test_fuzz_mutated_flatbuffers(small_model, tmp_path):
    """Seeded mutations of real models: each is either imported (and then exports and
    re-imports) or rejected with InvalidModelError. Any other exception or a crash fails."""
    import models
    seeds = [small_model, models.tflite_from_keras(models.larq_bnn(input_shape=(12, 12, 3)))]
    paths = []
    for i, data in enumerate(seeds):
        p = tmp_path / ("seed%d.tflite" % i)
        p.write_bytes(data)
        paths.append(str(p))
    total = {"ok": 0, "rejected": 0}
    for start in (0, 1500):
        r = subprocess.run([sys.executable, "-c", FUZZ_CHILD, str(start), "1500"] + paths,
                           capture_output=True, text=True, timeout=420)
        last_case = [l for l in r.stderr.splitlines() if l.startswith("case")][-1:]
        assert r.returncode == 0, "fuzzer child died (%s) at %s:\n%s" % (r.returncode, last_case, r.stderr[-3000:])
        ok, rejected = map(int, r.stdout.split())
        total["ok"] += ok
        total["rejected"] += rejected
    print("fuzz: %(ok)d mutated models imported and round-tripped, %(rejected)d rejected" % total)
    assert total["ok"] + total["rejected"] >= 2000
    assert total["ok"] > 0 and total["rejected"] > 0


# ---- issue 10: importer refusals ---------------------------------------------------------------

def _plain_bnn():
    path = os.path.join(HERE, "fuzz", "seeds", "plain_bnn.tflite")
    with open(path, "rb") as f:
        return f.read()


def _first_op(m, builtin):
    for i, op in enumerate(m.subgraphs[0].operators):
        if m.operatorCodes[op.opcodeIndex].builtinCode == builtin:
            return i, op
    raise AssertionError("no such operator")


@pytest.mark.parametrize("op_name, field, value, expected", [
    ("CONV_2D", "strideW", 0, "stride_w = 0"),
    ("CONV_2D", "dilationHFactor", -1, "dilation_h_factor = -1"),
    ("MAX_POOL_2D", "filterWidth", 0, "filter_width = 0"),
    ("MAX_POOL_2D", "strideH", 0, "stride_h = 0"),
])
def test_window_options_refused_at_import(op_name, field, value, expected):
    """A zero stride or filter size is refused at import, naming the operator (it used to reach
    the passes and fail as a PassPipelineError about an internal lq op)."""
    s = schema()
    data = _plain_bnn()
    m = model_t(data)
    index, op = _first_op(m, getattr(s.BuiltinOperator, op_name))
    setattr(op.builtinOptions, field, value)
    bad = pack(m)
    with pytest.raises(InvalidModelError, match=r"operator %d \(%s\) has %s; strides, dilations and filter sizes"
                       % (index, op_name, expected)):
        lce_convert.import_tflite(bad)
    with pytest.raises(InvalidModelError, match=op_name):
        lce_convert.convert_tflite(bad)


def test_contradicting_shape_signature_refused(small_model):
    m = model_t(small_model)
    t = m.subgraphs[0].tensors[2]
    t.shapeSignature = np.array([2] + [int(d) for d in t.shape][1:], np.int32)
    with pytest.raises(InvalidModelError, match=r"tensor 2 has shape \[1, 4\] but shape_signature \[2, 4\]"):
        lce_convert.import_tflite(pack(m))
    t.shapeSignature = np.array([-1] + [int(d) for d in t.shape][1:], np.int32)  # dynamic batch: fine
    module = lce_convert.import_tflite(pack(m))
    assert lce_convert.import_tflite(module.to_tflite()).text() == module.text()


def test_subgraph_names_colliding_with_fallback_names(small_model):
    """Own names that look like the fallback symbols (subgraph_<i>) do not collide with them."""
    m = model_t(small_model)
    assert len(m.subgraphs) == 2
    m.subgraphs[0].name = b"subgraph_1"
    m.subgraphs[1].name = None
    module = lce_convert.import_tflite(pack(m))
    text = module.text()
    assert "func.func @subgraph_1(" in text and "@subgraph_1_1(" in text
    again = model_t(module.to_tflite())
    assert [g.name for g in again.subgraphs] == [b"subgraph_1", None]
    assert lce_convert.import_tflite(module.to_tflite()).text() == text
