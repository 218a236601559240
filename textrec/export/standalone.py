"""Call an export in a process that has only TensorFlow and tensorflow-text: no textrec.

Run as a script (not ``python -m``, which would import the textrec package)::

    python path/to/standalone.py EXPORT_DIR REQUESTS.json OUT.json

``REQUESTS.json`` is a list of ``{"signature": name, "inputs": {name: nested list}}``;
``OUT.json`` receives, for each, ``{"outputs": {name: nested list}, "seconds": float}`` and
the list of modules that the process imported whose name starts with "textrec" (none).
This file imports nothing from textrec on purpose: it shows what a deployment needs.
"""

import json
import sys
import time

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer's ops)

DTYPES = {"user_id": tf.string, "text": tf.string, "k": tf.int32, "item_id": tf.string,
          "n": tf.int32}


def _plain(value):
    value = np.asarray(value)
    if value.dtype.kind in "SO":
        return [_plain(v) for v in value] if value.ndim else value.item().decode("utf-8")
    return value.tolist()


def main(export_dir: str, requests_file: str, out_file: str) -> None:
    loaded = tf.saved_model.load(export_dir)
    results = []
    for request in json.load(open(requests_file)):
        function = loaded.signatures[request["signature"]]
        inputs = {name: tf.constant(value, DTYPES[name])
                  for name, value in request["inputs"].items()}
        start = time.perf_counter()
        outputs = function(**inputs)
        seconds = time.perf_counter() - start
        results.append({"outputs": {name: _plain(tensor.numpy())
                                    for name, tensor in outputs.items()},
                        "seconds": seconds})
    imported = sorted(name for name in sys.modules if name.split(".")[0] == "textrec")
    json.dump({"results": results, "textrec_modules": imported}, open(out_file, "w"))


if __name__ == "__main__":
    main(*sys.argv[1:4])
