"""Writes libFuzzer seed inputs for flexbuffer_options_fuzzer: the custom options of every Lce
op in the fuzzer's seed models (tests/fuzz/seeds/), one file each, into the directory given."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import mutate  # noqa: E402


def main(out):
    os.makedirs(out, exist_ok=True)
    seen = set()
    for name in sorted(os.listdir(os.path.join(os.path.dirname(HERE), "seeds"))):
        m = mutate.parse(open(os.path.join(os.path.dirname(HERE), "seeds", name), "rb").read())
        for sg in m.subgraphs:
            for op in sg.operators or []:
                if op.customOptions is not None and len(op.customOptions):
                    data = bytes(op.customOptions)
                    if data not in seen:
                        seen.add(data)
                        with open(os.path.join(out, "options%d" % len(seen)), "wb") as f:
                            f.write(data)
    print(len(seen), "seed inputs in", out)


if __name__ == "__main__":
    main(sys.argv[1])
