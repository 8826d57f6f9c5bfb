"""What `attncc compile` writes, and where it cannot (issue 14, classes 5 and 7): nothing a user
passes on the command line becomes code; an output that cannot be written is a user error
(exit 1, one line naming the path), not an internal one; a temporary file a killed write left
behind is removed by the next write; a spec saved with a UTF-8 byte-order mark compiles."""

import ast
import os
import time

import pytest

from attncc.commands.cli import main
from attncc.driver.pipeline import front_end
from attncc.language.errors import SpecError
from attncc.runtime import schedule

GOOD = 'attention demo "A demo."\nparam window: int = 4\nmask = j <= i and i - j < window\n'


def _shape(code: str) -> str:
    """The program's syntax tree with every string constant blanked."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree)


def _compile(capsys, *args):
    code = main(["compile", *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("name", ["a\nimport os; os.system('true')\n#", "b\rprint(1)\r#", "c\u2028exit()\u2028#",
                                  "d\x0bx = 1\x0b#", "e\fimport sys\f#"])
def test_command_line_paths_never_become_code(tmp_path, capsys, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo.attn").write_text(GOOD)
    tests = f"test_{name}.py"
    code, err = _compile(capsys, "demo.attn", "-o", f"{name}.py", "--tests", tests)
    assert code == 0, err
    text = (tmp_path / tests).read_text()
    code, err = _compile(capsys, "demo.attn", "-o", "plain.py", "--tests", "test_plain.py")
    assert code == 0, err
    # The same program as for a plain path, up to string constants (the module's path, the
    # import name made from it): no statement came from the path.
    assert _shape(text) == _shape((tmp_path / "test_plain.py").read_text())
    header = text.splitlines()[:3]
    assert all(line.startswith("#") for line in header), header
    assert ascii(f"{name}.py") in header[1] and ascii(tests) in header[2]


def test_printable_paths_stay_readable_in_the_header(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo.attn").write_text(GOOD)
    code, err = _compile(capsys, "demo.attn", "-o", "my module.py", "--tests", "test_é.py")
    assert code == 0, err
    header = (tmp_path / "test_é.py").read_text().splitlines()[:3]
    assert "# Checks my module.py (triton backend)" in header[1] and "pytest test_é.py " in header[2]


def test_unwritable_outputs_are_user_errors_naming_the_path(tmp_path, capsys, monkeypatch):
    spec = tmp_path / "demo.attn"
    spec.write_text(GOOD)
    a_file = tmp_path / "afile"
    a_file.write_text("")
    cases = {
        str(tmp_path): "it is a folder",  # -o on a directory
        str(a_file / "x.py"): f"{a_file} is a file, not a folder",  # -o under a file
    }
    for output, why in cases.items():
        code, err = _compile(capsys, str(spec), "-o", output)
        assert code == 1, err
        assert err.strip().splitlines() == [f"attncc: error: cannot write {output}: {why}" +
                                            ("; give a file name in it" if why == "it is a folder" else "")], err
    # A folder the user may not write to (the tests run as root, where chmod does not stop a
    # write, so the rename is refused as the kernel would refuse it).

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(schedule.os, "replace", refuse)
    target = tmp_path / "ro" / "x.py"
    code, err = _compile(capsys, str(spec), "-o", str(target))
    assert code == 1 and "internal error" not in err
    assert err.strip() == (f"attncc: error: cannot write {target}: permission denied in {target.parent}; "
                           "choose a folder you can write to")
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]  # its temporary file went


def test_a_killed_writes_temporary_file_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "demo.py"
    orphan = tmp_path / ".demo.py.k1ll3d.tmp"
    recent = tmp_path / ".demo.py.w0rk1n.tmp"  # another writer's, still at work
    other = tmp_path / ".other.py.abc.tmp"  # another target's
    for path in (orphan, recent, other):
        path.write_text("partial")
    old = time.time() - schedule.ORPHAN_SECONDS - 10
    os.utime(orphan, (old, old))
    os.utime(other, (old, old))
    schedule.write_atomic(target, "x = 1\n")
    assert target.read_text() == "x = 1\n"
    assert not orphan.exists() and recent.exists() and other.exists()


def test_a_byte_order_mark_at_the_start_is_accepted(tmp_path, capsys):
    spec = tmp_path / "bom.attn"
    spec.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    code, err = _compile(capsys, str(spec), "-o", str(tmp_path / "bom.py"))
    assert code == 0, err
    assert front_end("\ufeff" + GOOD).name == "demo"
    # diagnostics keep the columns an editor shows (the mark is invisible there)
    with pytest.raises(SpecError) as info:
        front_end("\ufeffattention 1demo\nmask = j <= i\n", "bom.attn")
    assert "bom.attn:1:11:" in info.value.render()
