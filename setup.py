"""Build the extension for `pip install .` (metadata is in pyproject.toml).

Besides the package, the wheel carries fastdeepcopy-startup.pth at the root of
site-packages: the start-up hook that patches copy.deepcopy in every
interpreter of the environment (FASTDEEPCOPY=0 turns it off), the same file
`make install` writes (mk/install.mk).
"""
import glob
import os

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

PTH_NAME = "fastdeepcopy-startup.pth"
PTH_LINE = 'import fastdeepcopy._settings, fastdeepcopy as _fdc; _fdc._startup_run(".pth")\n'


class build_py_with_pth(build_py):
    """build_py, plus the start-up .pth file at the top of the build tree."""

    def run(self):
        super().run()
        path = os.path.join(self.build_lib, PTH_NAME)
        with open(path, "w", encoding="utf-8") as f:
            f.write(PTH_LINE)

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [os.path.join(self.build_lib, PTH_NAME)]


setup(
    ext_modules=[
        Extension(
            "fastdeepcopy._engine",
            sources=sorted(glob.glob("src/*.c")),
            depends=sorted(glob.glob("src/*.h")),
            extra_compile_args=["-std=c11", "-fvisibility=hidden", "-fno-strict-aliasing",
                                "-Wno-missing-field-initializers", "-Wno-unused-parameter"],
        )
    ],
    cmdclass={"build_py": build_py_with_pth},
)
