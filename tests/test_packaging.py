"""The wheel carries grammar/, templates/ and backends/, and works installed outside the checkout."""

import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_contains_data_and_compiles_outside_the_checkout(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("attncc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("attncc/_data/grammar/attn.lark", "attncc/_data/templates/module.py.jinja",
                   "attncc/_data/backends/torch/reference.py.jinja", "attncc/commands/cli.py"):
        assert needed in names
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    probe = (
        "import attncc, attncc.resources as r, torch\n"
        "assert '_data' in str(r.data_dir('grammar')), r.data_dir('grammar')\n"
        "m = attncc.load('attention c\\nmask = j <= i\\n', backend='torch')\n"
        "print(m.attention(*(torch.randn(1, 1, 3, 2) for _ in range(3))).shape)\n"
    )
    env = {"PYTHONPATH": str(site), "ATTNCC_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "torch.Size([1, 1, 3, 2])"
