#!/usr/bin/env python3
"""Writes the lock of the CUDA trainer image's wheels: the torch wheel whose libtorch DJL loads and the NVIDIA
runtime wheels its metadata requires on Linux x86_64 (triton, Python-only, is left out).

    python3 tools/images/lock_cuda_wheels.py [--torch 2.7.1] [--index https://pypi.org/simple] \
        > images/src/main/resources/io/pose/images/cuda-wheels.json

Only the standard library: it reads the index's JSON simple API (PEP 691) and the torch wheel's METADATA, which it
fetches with an HTTP range request from the end of the wheel (the zip's central directory), not the whole wheel.
"""
import argparse, io, json, re, struct, sys, urllib.request, zipfile, zlib

ACCEPT = "application/vnd.pypi.simple.v1+json"


def files(index, project):
    req = urllib.request.Request(f"{index}/{project}/", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(req) as r:
        return json.load(r)["files"]


def pick(index, project, version):
    """The manylinux x86_64 wheel of a pinned version (py3-none or cp312 for torch)."""
    norm = re.sub(r"[-_.]+", "_", project)
    candidates = []
    for f in files(index, project):
        name = f["filename"]
        if not name.endswith(".whl") or not name.startswith(f"{norm}-{version}-"):
            continue
        if "x86_64" not in name or "manylinux" not in name:
            continue
        if project == "torch" and "-cp312-cp312-" not in name:
            continue
        candidates.append(f)
    if not candidates:
        sys.exit(f"no manylinux x86_64 wheel of {project}=={version} on {index}")
    # the newest manylinux tag is the one pip would prefer on a current glibc
    candidates.sort(key=lambda f: f["filename"])
    f = candidates[-1]
    return {"name": project, "version": version, "filename": f["filename"], "url": f["url"],
            "sha256": f["hashes"]["sha256"], "size": f.get("size")}


class RangeFile(io.RawIOBase):
    """A seekable read-only view of a remote file through HTTP range requests."""

    def __init__(self, url, size):
        self.url, self.size, self.pos = url, size, 0

    def seekable(self):
        return True

    def readable(self):
        return True

    def seek(self, offset, whence=0):
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def tell(self):
        return self.pos

    def readinto(self, b):
        if self.pos >= self.size:
            return 0
        end = min(self.size, self.pos + len(b)) - 1
        req = urllib.request.Request(self.url, headers={"Range": f"bytes={self.pos}-{end}"})
        with urllib.request.urlopen(req) as r:
            data = r.read()
        b[:len(data)] = data
        self.pos += len(data)
        return len(data)


def requirements(wheel):
    with zipfile.ZipFile(io.BufferedReader(RangeFile(wheel["url"], wheel["size"]), 1 << 20)) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode()
    out = []
    for line in text.splitlines():
        m = re.match(r'Requires-Dist: ([A-Za-z0-9_.-]+)==([^;\s]+); platform_system == "Linux" and '
                     r'platform_machine == "x86_64"$', line)
        if m and m.group(1) != "triton":
            out.append((m.group(1), m.group(2)))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--torch", default="2.7.1")
    p.add_argument("--index", default="https://pypi.org/simple")
    a = p.parse_args()
    torch = pick(a.index, "torch", a.torch)
    wheels = [torch] + [pick(a.index, n, v) for n, v in requirements(torch)]
    json.dump({"torch": a.torch, "python": "cp312", "platform": "manylinux x86_64", "wheels": wheels},
              sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
