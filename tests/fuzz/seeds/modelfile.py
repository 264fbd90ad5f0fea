"""Seed corpus for fuzz_modelfile: tiny TorchScript archives written by PyTorch, and the same archives
with their source rewritten the ways a hostile model could spell an operator.

    /usr/bin/python3 modelfile.py OUTDIR                  the seeds (at build time)
    /usr/bin/python3 modelfile.py --regressions OUTDIR    tests/fuzz/regressions/modelfile/ again

The regressions are small crafted files that tst_modelloading also checks, by the start of their name:
refuse_* must be refused as untrusted, accept_* must load (look-alikes in comments, strings and
names), bomb_* must be refused by their declared sizes, corrupt_* must be refused as corrupt. With a
writable target, PyTorch 1.13's torch.jit.load and forward write the file for every refuse_* spelling
but two: refuse_rpc loads and fails only for want of an RPC agent, refuse_c10d does not compile (no
process group); both stand for their operator names. No file here names a path that exists: the
from_file target is under /nonexistent.
"""
import io
import pathlib
import struct
import sys
import zipfile
import zlib
from typing import Tuple

import torch
from torch import nn

TARGET = "/nonexistent/layerscope-fuzz-target"


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(x)).flatten(1)


class WithState(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = 2.0

    @torch.jit.export
    def __getstate__(self) -> Tuple[float, bool]:
        return self.scale, self.training

    @torch.jit.export
    def __setstate__(self, state: Tuple[float, bool]) -> None:
        self.scale = state[0]
        self.training = state[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class FromFile(nn.Module):
    def __init__(self):
        super().__init__()
        self.path = TARGET

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mapped = torch.from_file(self.path, True, 16, dtype=torch.uint8)
        mapped.fill_(65)
        return x + mapped[0].float()


class Forked(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        future = torch.jit.fork(torch.sigmoid, x)
        return torch.jit.wait(future) + x


def saved(module, script=True):
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module) if script else torch.jit.trace(module, torch.zeros(1, 3)), buffer)
    return buffer.getvalue()


def rewritten(archive, old, new, rename=lambda name: name):
    """The archive with `old` replaced by `new` in its code (debug info dropped: it would not match)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename.endswith(".debug_pkl"):
                continue
            data = source.read(info)
            if "/code/" in info.filename and info.filename.endswith(".py"):
                text = data.decode()
                assert old in text, (old, text)
                data = text.replace(old, new).encode()
            target.writestr(rename(info.filename), data)
    return out.getvalue()


FROM_FILE = "    mapped = torch.from_file(path, True, 16, dtype=0)\n"
HARMLESS = "    mapped = torch.zeros([16], dtype=0)\n"

# Spellings of the from_file call that PyTorch 1.13's torch.jit.load compiles and runs.
REFUSED_SPELLINGS = {
    "ops_aten": "    mapped = ops.aten.from_file(path, True, 16, dtype=0)\n",
    "autograd_attribute": "    mapped = torch.autograd.from_file(path, True, 16, dtype=0)\n",
    "alias_module": "    t = torch\n    mapped = t.from_file(path, True, 16, dtype=0)\n",
    "alias_ops_namespace": "    aten = ops.aten\n    mapped = aten.from_file(path, True, 16, dtype=0)\n",
    "alias_function": "    f = torch.from_file\n    mapped = f(path, True, 16, dtype=0)\n",
    "getattr": "    mapped = getattr(torch, \"from_file\")(path, True, 16, dtype=0)\n",
    "getattr_ops": "    mapped = getattr(getattr(ops, \"aten\"), \"from_file\")(path, True, 16, dtype=0)\n",
    "parenthesized": "    mapped = (torch).from_file(path, True, 16, dtype=0)\n",
    "spaces_and_tabs": "    mapped = torch .\tfrom_file (path, True, 16, dtype=0)\n",
    "line_continuation": "    mapped = torch.\\\n      from_file(path, True, 16, dtype=0)\n",
    "newline_in_brackets": "    mapped = (torch.\n      # a comment between\n      from_file)(path, True, 16, dtype=0)\n",
    "after_string_with_escapes": "    s = \"\\\" # not a comment\"\n    mapped = torch.from_file(path, True, 16, dtype=0)\n",
    "after_triple_quoted": "    s = '''\n'''\n    mapped = torch.from_file(path, True, 16, dtype=0)\n",
    "torch_save": "    torch.save(x, path)\n" + HARMLESS,
    "rpc": "    _r = ops.prim.rpc_async(path, \"f\")\n" + HARMLESS,
    "c10d": "    _r = ops.c10d.barrier(x)\n" + HARMLESS,
}
ACCEPTED_SPELLINGS = {
    "comment": "    # mapped = torch.from_file(path, True, 16, dtype=0)\n" + HARMLESS,
    "string": "    s = \"torch.from_file(path) \\\" torch.save(x, path)\"\n" + HARMLESS,
    "triple_quoted": "    s = \"\"\"\n    torch.from_file(path, True, 16)\n\"\"\"\n" + HARMLESS,
    "lookalike_names": "    save_features = torch.zeros([16], dtype=0)\n    mapped = torch.relu(save_features)\n",
}


def zip_entry(name, data, size=None, method=0, crc=None, zip64=False):
    return name, data, len(data) if size is None else size, method, zlib.crc32(data) if crc is None else crc, zip64


def write_zip(entries):
    """A zip archive with sizes as given, true or not (zip64 fields when asked)."""
    local, central = bytearray(), bytearray()
    for name, data, size, method, crc, zip64 in entries:
        raw = name.encode()
        extra = struct.pack("<HHQQ", 1, 16, size, len(data)) if zip64 else b""
        stored_size, stored_comp = (0xFFFFFFFF, 0xFFFFFFFF) if zip64 else (size, len(data))
        version = 45 if zip64 else 20
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, version, 0, method, 0, 0x21, crc, stored_comp, stored_size,
                             len(raw), len(extra))
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, version, version, 0, method, 0, 0x21, crc,
                               stored_comp, stored_size, len(raw), len(extra), 0, 0, 0, 0, len(local)) + raw + extra
        local += header + raw + extra + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(local), 0)
    return bytes(local + central + end)


def deflated(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def regressions():
    from_file = saved(FromFile())
    files = {}
    for name, spelling in REFUSED_SPELLINGS.items():
        files[f"refuse_{name}.pt"] = rewritten(from_file, FROM_FILE, spelling)
    # LibTorch's reader (miniz) finds code/<module>.py ignoring letter case.
    files["refuse_upper_case_entry_names.pt"] = rewritten(from_file, FROM_FILE, FROM_FILE,
                                                          lambda name: name.replace("/code/", "/CODE/").upper())
    for name, spelling in ACCEPTED_SPELLINGS.items():
        files[f"accept_{name}.pt"] = rewritten(from_file, FROM_FILE, spelling)

    code = b"class A(Module):\n  pass\n"
    version = zip_entry("m/version", b"3\n")
    # 4 GiB declared by a code entry of a few bytes; 2^64 - 1 bytes (zip64); 64 GiB + 1 from a 64 GiB stream
    # that is not there; five entries of 16 MiB of zeros, under the per-entry ratio's floor, 80 MiB together.
    files["bomb_entry_ratio.pt"] = write_zip([version, zip_entry("m/code/__torch__.py", deflated(code),
                                                                 size=0xFFFFFFFE, method=8)])
    files["bomb_entry_2_64.pt"] = write_zip([version, zip_entry("m/data/0", b"\0" * 64, size=2 ** 64 - 1,
                                                                zip64=True)])
    files["bomb_entry_over_cap.pt"] = write_zip([version, zip_entry("m/data/0", b"\0" * 64, size=(64 << 30) + 1,
                                                                    zip64=True)])
    zeros = bytes(16 << 20)
    files["bomb_total_ratio.pt"] = write_zip([version] + [
        zip_entry(f"m/data/{i}", deflated(zeros), size=len(zeros), method=8, crc=zlib.crc32(zeros)) for i in range(5)])
    # A code entry that inflates to more than it declares, and one that holds less.
    long_code = code * 40
    files["corrupt_code_longer_than_declared.pt"] = write_zip([version, zip_entry(
        "m/code/__torch__.py", deflated(long_code), size=len(code), method=8, crc=zlib.crc32(long_code[:len(code)]))])
    files["corrupt_code_shorter_than_declared.pt"] = write_zip([version, zip_entry(
        "m/code/__torch__.py", deflated(code), size=len(code) * 2, method=8)])
    return files


def seeds():
    files = {
        "plain_scripted.pt": saved(Plain()),
        "plain_traced.pt": saved(Plain(), script=False),
        "with_state.pt": saved(WithState()),
        "forked.pt": saved(Forked()),
        "from_file.pt": saved(FromFile()),
    }
    buffer = io.BytesIO()
    torch.save(Plain().state_dict(), buffer)
    files["state_dict.pt"] = buffer.getvalue()
    from_file = files["from_file.pt"]
    for name, spelling in {**REFUSED_SPELLINGS, **ACCEPTED_SPELLINGS}.items():
        files[f"spelling_{name}.pt"] = rewritten(from_file, FROM_FILE, spelling)
    return files


def main():
    torch.manual_seed(0)
    if sys.argv[1] == "--regressions":
        out, files = pathlib.Path(sys.argv[2]), regressions()
    else:
        out, files = pathlib.Path(sys.argv[1]), seeds()
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
