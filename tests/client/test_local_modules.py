"""Local modules imported from the notebook's folder are recorded, and the ones that differ from git are kept."""

import json
import subprocess
import sys
import textwrap


def test_local_modules_in_a_git_folder(tmp_path):
    repo = tmp_path / "project"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q"], cwd=repo, check=True)
    (repo / "committed.py").write_text("A = 1\n")
    (repo / "changed.py").write_text("B = 1\n")
    subprocess.run(git + ["add", "."], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-qm", "init"], cwd=repo, check=True)
    (repo / "changed.py").write_text("B = 2  # edited after the commit\n")
    (repo / "fresh.py").write_text("C = 3\n")
    script = textwrap.dedent("""
        import json, committed, changed, fresh
        from jupyter_mltrack.client.environment import gather, environment_files
        env = gather()
        print(json.dumps({"modules": env["local_modules"]["modules"], "git": env["git"].get("dirty"),
                          "files": {p: d.decode() for p, d in environment_files(env)}}))
    """)
    r = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=60,
                       env={"PYTHONPATH": str(repo) + ":" + ":".join(sys.path), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    state = {m["module"]: m["git"] for m in out["modules"]}
    assert state == {"committed": "committed", "changed": "modified", "fresh": "untracked"}
    assert out["git"] is True
    files = out["files"]
    assert files["modules/changed.py"].startswith("B = 2") and files["modules/fresh.py"] == "C = 3\n"
    assert "modules/committed.py" not in files
    assert "+B = 2" in files["git.patch"]
    assert "_files" not in json.loads(files["environment.json"])["local_modules"]
