# The C extension (the LLM core) is declared here; everything else lives in pyproject.toml.
import glob
from setuptools import Extension, setup

flags = ["-O3", "-std=c11", "-Wall", "-Wno-unused-function", "-fno-strict-aliasing"]
# No -march flags: SIMD kernels opt in per function (target attributes) behind a
# runtime CPU check, so one build runs on every board of its architecture.

setup(
    ext_modules=[
        Extension(
            "parrot.llm._core",
            sources=sorted(glob.glob("parrot/llm/core/*.c")),
            include_dirs=["parrot/llm/core"],
            # kernels live in .inc bodies included per instruction set: edits there must rebuild
            depends=sorted(glob.glob("parrot/llm/core/*.inc") + glob.glob("parrot/llm/core/*.h")),
            extra_compile_args=flags,
            extra_link_args=["-lpthread", "-lm"],
        )
    ]
)
