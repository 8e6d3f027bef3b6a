#!/usr/bin/python3
"""A stand-in for adb that keeps each "device" in a folder and runs its shell commands here.

Layout under $FAKE_ADB_ROOT: one folder per serial, holding
  device.json   {"model": "Pixel 8", "android": "14", "battery": [80, 79], "temperature": [301, 305],
                 "fail_after": N}   (all optional; battery/temperature are read in turn by each
                 `dumpsys battery`; after N adb calls the device disappears, as when a cable is pulled)
  fs/           the device's files: /data/local/tmp/... lives at fs/data/local/tmp/...
  calls         the number of adb calls so far

`adb devices -l` lists the folders; every other call must name its device with -s SERIAL.

An aarch64 ELF pushed to the device is kept as NAME.elf beside a NAME script that runs it under
qemu-aarch64, so `shell` commands run the real aarch64 binary the way a phone would.
"""

import json
import os
import shutil
import subprocess
import sys

DEVICE_ROOT = "/data/local/tmp"
ELF_MACHINE_AARCH64 = 183


def fail(message, code=1):
    print(message, file=sys.stderr)
    sys.exit(code)


def device_dir(serial):
    path = os.path.join(os.environ["FAKE_ADB_ROOT"], serial)
    if not os.path.isdir(path):
        fail(f"adb: device '{serial}' not found")
    return path


def settings(folder):
    path = os.path.join(folder, "device.json")
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle)


def count_call(folder, serial):
    """Counts this call; a device past its fail_after has gone away."""
    path = os.path.join(folder, "calls")
    calls = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as handle:
        handle.write(str(calls + 1))
    limit = settings(folder).get("fail_after")
    if limit is not None and calls >= limit:
        fail(f"adb: device '{serial}' not found")
    return calls


def local_path(folder, remote):
    if not remote.startswith("/"):
        remote = DEVICE_ROOT + "/" + remote
    return os.path.join(folder, "fs", remote.lstrip("/"))


def map_paths(folder, command):
    return command.replace(DEVICE_ROOT, os.path.join(folder, "fs", DEVICE_ROOT.lstrip("/")))


def is_aarch64_elf(path):
    with open(path, "rb") as handle:
        header = handle.read(20)
    return len(header) == 20 and header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64


def push(folder, source, remote):
    target = local_path(folder, remote)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if is_aarch64_elf(source):
        qemu = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
        if not qemu:
            fail("fake adb: qemu-aarch64 is not installed")
        shutil.copyfile(source, target + ".elf")
        os.chmod(target + ".elf", 0o755)  # qemu runs only executable files
        with open(target, "w") as handle:
            handle.write(f'#!/bin/sh\nexec {qemu} "$0.elf" "$@"\n')
        os.chmod(target, 0o755)
    else:
        shutil.copyfile(source, target)
    print(f"{source}: 1 file pushed.")


def dumpsys_battery(folder):
    config = settings(folder)
    reads_path = os.path.join(folder, "battery_reads")
    reads = int(open(reads_path).read()) if os.path.exists(reads_path) else 0
    with open(reads_path, "w") as handle:
        handle.write(str(reads + 1))

    def pick(values, default):
        values = values if isinstance(values, list) else [values if values is not None else default]
        return values[min(reads, len(values) - 1)]

    print("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n"
          f"  level: {pick(config.get('battery'), 100)}\n  scale: 100\n"
          f"  temperature: {pick(config.get('temperature'), 250)}")


def shell(folder, command):
    config = settings(folder)
    if command.strip() == "getprop ro.product.model":
        print(config.get("model", "Fake Phone"))
        return 0
    if command.strip() == "getprop ro.build.version.release":
        print(config.get("android", "14"))
        return 0
    if command.strip() == "dumpsys battery":
        dumpsys_battery(folder)
        return 0
    os.makedirs(os.path.join(folder, "fs", DEVICE_ROOT.lstrip("/")), exist_ok=True)
    return subprocess.run(["/bin/sh", "-c", map_paths(folder, command)], cwd=os.path.join(folder, "fs")).returncode


def list_devices():
    """`adb devices -l`: every device folder, as adb prints attached phones."""
    print("List of devices attached")
    root = os.environ["FAKE_ADB_ROOT"]
    for serial in sorted(os.listdir(root)):
        model = settings(os.path.join(root, serial)).get("model", "Fake Phone").replace(" ", "_").replace("-", "_")
        print(f"{serial:<22} device usb:1-1 product:fake model:{model} device:fake transport_id:1")
    return 0


def main(argv):
    if argv == ["devices", "-l"]:
        return list_devices()
    if len(argv) >= 2 and argv[0] == "-s":
        serial, argv = argv[1], argv[2:]
    else:
        fail("fake adb: every call must name its device with -s SERIAL")
    if not argv:
        fail("fake adb: no command")
    folder = device_dir(serial)
    count_call(folder, serial)
    command, rest = argv[0], argv[1:]
    if command == "get-state":
        print(settings(folder).get("state", "device"))
        return 0
    if command == "push" and len(rest) == 2:
        push(folder, rest[0], rest[1])
        return 0
    if command == "pull" and len(rest) == 2:
        source = local_path(folder, rest[0])
        if not os.path.exists(source):
            fail(f"adb: error: remote object '{rest[0]}' does not exist")
        shutil.copyfile(source, rest[1])
        print(f"{rest[0]}: 1 file pulled.")
        return 0
    if command == "shell" and rest:
        return shell(folder, " ".join(rest))
    fail(f"fake adb: unsupported command {argv}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
