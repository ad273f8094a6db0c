"""``llama_cpp.server`` without ggml's extra CPU buffer types (weight repacking, AMX).

On this project's test machines (AVX-512 + AMX CPUs) llama.cpp 0.3.36 segfaults in
``llama_decode`` as soon as a prompt of more than one token goes through the repacked
weights, so every chat completion killed the server and the client saw "Server disconnected
without sending a response". The server has no flag for ``use_extra_bufts``, so this wrapper
turns it off in the default model parameters and then runs the server's own ``main``, with
the same command line arguments.
"""

from __future__ import annotations

import llama_cpp.llama_cpp as llama_cpp_lib

_default_params = llama_cpp_lib.llama_model_default_params


def _params_without_extra_buffers() -> llama_cpp_lib.llama_model_params:
    """The library's default model parameters, with the repacking buffer types disabled."""
    params = _default_params()
    params.use_extra_bufts = False
    return params


if __name__ == "__main__":
    llama_cpp_lib.llama_model_default_params = _params_without_extra_buffers
    from llama_cpp.server.__main__ import main

    main()
