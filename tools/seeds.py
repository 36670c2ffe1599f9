"""Train each reference model under several seeds and check the margin over its threshold.

    python tools/seeds.py [--seeds 0 1 2 3 4] [--margin 0.03]

The reference must clear every threshold by the margin under every seed, so
that the stub defaults are safe for a correct student implementation.
Exits 1 if any run falls short.
"""

import argparse
import contextlib
import importlib
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "solutions")]
import utils  # noqa: E402
from autograder.core import config  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--margin", type=float, default=0.03)
    parser.add_argument("--files", nargs="+", default=list(config.FILES))
    args = parser.parse_args()
    short = []
    print(f"{'file':<12} {'seed':>4} {'accuracy':>9} {'threshold':>9} {'seconds':>8}")
    for file in args.files:
        cls_name, kind = config.CLASSES[file], config.LAYOUTS[file]
        data = utils.load_data(kind)
        cls = getattr(importlib.import_module(file), cls_name)
        for seed in args.seeds:
            started = time.perf_counter()
            model = cls(random_seed=seed)
            with contextlib.redirect_stdout(io.StringIO()):
                model.fit(*data[:4])
            acc = utils.accuracy(model.predict(data[4]), data[5] if kind != "numpy" else data[5].argmax(1))
            threshold = utils.THRESHOLDS[file]
            print(f"{file:<12} {seed:>4} {acc:>9.2%} {threshold:>9.0%} {time.perf_counter() - started:>8.1f}", flush=True)
            if acc < threshold + args.margin:
                short.append((file, seed, acc))
    for file, seed, acc in short:
        print(f"SHORT: {file} seed {seed}: {acc:.2%} is less than {args.margin:.0%} above the threshold")
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main())
