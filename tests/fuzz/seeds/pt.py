"""Seed corpus for fuzz_pt: torch.save archives written by PyTorch (every dtype, strided views) and the
crafted ones tst_ptfile refuses (tests/fixtures/pt_fixtures.py writes both), and the pickle of each.

    /usr/bin/python3 pt.py OUTDIR
"""
import pathlib
import shutil
import sys
import tempfile
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "fixtures"))
import pt_fixtures  # noqa: E402

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
with tempfile.TemporaryDirectory() as work:
    sys.argv = ["pt_fixtures.py", work]
    pt_fixtures.main()
    for part in ("good", "bad"):
        for file in sorted(pathlib.Path(work, part).glob("*.pt")):
            shutil.copy(file, out / f"{part}_{file.name}")
            try:  # the pickle alone, for the machine
                with zipfile.ZipFile(file) as archive:
                    pickle = [n for n in archive.namelist() if n.endswith("/data.pkl")]
                    if pickle:
                        (out / f"{part}_{file.stem}.pkl").write_bytes(archive.read(pickle[0]))
            except zipfile.BadZipFile:
                pass
