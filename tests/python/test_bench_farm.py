"""needle-bench on a farm of adb devices, without phones: a fake adb (tests/tools/fake_adb.py) keeps
each device in a folder and runs the pushed static aarch64 needle-bench under qemu-aarch64, so the
whole push / run / pull / merge path runs the real binary.

Needs the aarch64 cross build (cmake --preset aarch64); the tests skip without it unless
NEEDLE_REQUIRE_AARCH64=1, which CI sets in its aarch64 step."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

FAKE_ADB = os.path.join(REPO_ROOT, "tests", "tools", "fake_adb.py")
DEVICE_EXIT_FAILED = 3


@pytest.fixture(scope="module")
def aarch64_bench():
    path = os.environ.get("NEEDLE_AARCH64_BENCH", os.path.join(REPO_ROOT, "build", "aarch64", "needle-bench"))
    if os.access(path, os.X_OK) and (shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")):
        return path
    if os.environ.get("NEEDLE_REQUIRE_AARCH64") == "1":
        pytest.fail(f"NEEDLE_REQUIRE_AARCH64=1 but {path} or qemu-aarch64 is missing")
    pytest.skip(f"no aarch64 needle-bench at {path} (cmake --preset aarch64) or no qemu-aarch64")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    subprocess.run([sys.executable, os.path.join(REPO_ROOT, "python", "needle_convert.py"), "random", str(path),
                    "--config", "tiny"], check=True, capture_output=True)
    return str(path)


def make_farm(root, devices):
    """Device folders for the fake adb; returns the environment that puts it first on PATH."""
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "adb").write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE_ADB} "$@"\n')
    (bin_dir / "adb").chmod(0o755)
    for serial, settings in devices.items():
        (root / "devices" / serial).mkdir(parents=True)
        (root / "devices" / serial / "device.json").write_text(json.dumps(settings))
    return dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_ADB_ROOT=str(root / "devices"))


def run_bench(needle_bench_bin, env, *args):
    return subprocess.run([needle_bench_bin, *args], capture_output=True, text=True, env=env, timeout=900)


SMALL_TESTS = ["-p", "16", "-n", "4", "-d", "8", "-r", "2", "--warmup", "0", "-e", "optimized", "-P", "fp32,int8"]


def test_two_devices_merge_their_rows(tmp_path, needle_bench_bin, aarch64_bench, tiny_model):
    env = make_farm(tmp_path, {
        "PHONE-A": {"model": "Pixel 8", "android": "14", "battery": [81, 80], "temperature": [301, 312]},
        "PHONE-B": {"model": "Galaxy S23", "android": "13"},
    })
    farm = tmp_path / "farm.json"
    farm.write_text(json.dumps({"devices": [
        {"serial": "PHONE-A", "name": "pixel-8", "cpu_mask": "0x1", "threads": [1]},
        {"serial": "PHONE-B", "threads": [1, 2]},
    ]}))
    result = run_bench(needle_bench_bin, env, "-m", tiny_model, "--farm", str(farm),
                       "--device-binary", aarch64_bench, "-o", "json", *SMALL_TESTS)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    by_device = {}
    for row in rows:
        by_device.setdefault(row["device"], []).append(row)
    # 2 precisions x 2 tests on A's one thread count; on B's two.
    assert {device: len(found) for device, found in by_device.items()} == {"adb:PHONE-A": 4, "adb:PHONE-B": 8}
    a = by_device["adb:PHONE-A"]
    assert all(row["device_model"] == "pixel-8" and row["os_version"] == "Android 14" for row in a)
    assert all(row["battery_before"] == 81 and row["battery_after"] == 80 for row in a)
    assert all(row["temp_before_c"] == 30.1 and row["temp_after_c"] == 31.2 for row in a)
    assert all(row["cpu_mask"] == "0x1" and row["n_threads"] == 1 for row in a)
    b = by_device["adb:PHONE-B"]
    assert all(row["device_model"] == "Galaxy S23" and row["os_version"] == "Android 13" for row in b)
    assert sorted({row["n_threads"] for row in b}) == [1, 2]
    for row in rows:
        # Measured by the pushed binary: the aarch64 kernels, every sample present, named after the local file.
        assert row["isa"].startswith("neon"), row["isa"]
        assert row["model_filename"] == tiny_model
        assert len(row["samples_ts"]) == 2 and all(value > 0 for value in row["samples_ts"])
        assert row["test"] in ("pp16", "tg4 @ d8")
    # The Markdown table of the same merge names the devices.
    table = run_bench(needle_bench_bin, env, "-m", tiny_model, "--device", "adb:PHONE-A",
                      "--device-binary", aarch64_bench, "-o", "md", *SMALL_TESTS)
    assert table.returncode == 0, table.stderr
    assert "adb:PHONE-A (Pixel 8)" in table.stdout


def test_a_device_lost_midway_keeps_the_others_rows(tmp_path, needle_bench_bin, aarch64_bench, tiny_model):
    # Calls: the reachability check's get-state, then get-state, 2 getprop, dumpsys, mkdir, push binary, push
    # model; the 9th (the run) finds it gone.
    env = make_farm(tmp_path, {"GOOD": {}, "FLAKY": {"fail_after": 8}})
    result = run_bench(needle_bench_bin, env, "-m", tiny_model, "--device", "adb:GOOD", "--device", "adb:FLAKY",
                       "--device-binary", aarch64_bench, "-t", "1", "-o", "jsonl", *SMALL_TESTS)
    assert result.returncode == DEVICE_EXIT_FAILED, result.stderr
    assert "device adb:FLAKY failed" in result.stderr and "not found" in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4 and {row["device"] for row in rows} == {"adb:GOOD"}


def test_a_failing_remote_run_reports_its_stderr(tmp_path, needle_bench_bin, aarch64_bench):
    env = make_farm(tmp_path, {"PHONE": {}})
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint at all")
    result = run_bench(needle_bench_bin, env, "-m", str(broken), "--device", "adb:PHONE",
                       "--device-binary", aarch64_bench, *SMALL_TESTS)
    assert result.returncode == DEVICE_EXIT_FAILED
    assert "device adb:PHONE failed: needle-bench on the device exited with status 1" in result.stderr
    assert "broken.safetensors" in result.stderr


def test_farm_file_errors_name_the_field(tmp_path, needle_bench_bin):
    cases = {
        '{"devices": [{"name": "x"}]}': "devices[0]: serial",
        '{"devices": [{"serial": "A", "threads": [0]}]}': "devices[0]: threads",
        '{"devices": [{"serial": "A"}, {"serial": "A"}]}': "devices[1]: serial A is listed twice",
        '{"devices": [{"serial": "A", "cpu_mask": "zz"}]}': "devices[0]: cpu_mask",
        '{"devices": [{"serial": "A", "speed": 1}]}': 'unknown field "speed"',
        '{"devices": []}': "no devices",
        '{"devices": [': "farm.json",
    }
    for text, expected in cases.items():
        farm = tmp_path / "farm.json"
        farm.write_text(text)
        result = run_bench(needle_bench_bin, dict(os.environ), "--farm", str(farm))
        assert result.returncode == 1, text
        assert expected in result.stderr, (text, result.stderr)


def test_a_host_binary_is_refused_for_phones(tmp_path, needle_bench_bin):
    env = make_farm(tmp_path, {"PHONE": {}})
    result = run_bench(needle_bench_bin, env, "--device", "adb:PHONE", "--device-binary", needle_bench_bin)
    assert result.returncode == 1
    assert "not an aarch64 ELF executable" in result.stderr


def test_an_unreachable_device_fails_before_the_binary_is_looked_at(tmp_path, needle_bench_bin):
    # No aarch64 build needed: the check comes before the device binary (and so before any cross build).
    env = make_farm(tmp_path, {"PHONE": {}})
    result = run_bench(needle_bench_bin, env, "--device", "adb:PHONE", "--device", "adb:TYPO",
                       "--device-binary", str(tmp_path / "no-such-binary"))
    assert result.returncode == 1 and result.stdout == ""
    assert "device adb:TYPO is not reachable" in result.stderr and "not found" in result.stderr
    assert "no-such-binary" not in result.stderr
    (tmp_path / "offline").mkdir()
    offline = make_farm(tmp_path / "offline", {"PHONE": {"state": "offline"}})
    result = run_bench(needle_bench_bin, offline, "--device", "adb:PHONE", "--device-binary", "/nonexistent")
    assert result.returncode == 1 and 'device adb:PHONE is not ready: adb get-state says "offline"' in result.stderr
    result = run_bench(needle_bench_bin, env, "--device", "adb:PHONE", "--adb", str(tmp_path / "no-adb"))
    assert result.returncode == 1 and "cannot run adb" in result.stderr


def test_list_devices_names_the_cpu_the_phones_and_the_farm(tmp_path, needle_bench_bin):
    env = make_farm(tmp_path, {"R58M123": {"model": "SM-S911B"}, "PIXEL8": {"model": "Pixel 8"}})
    farm = tmp_path / "farm.json"
    farm.write_text(json.dumps({"devices": [{"serial": "FARM1", "name": "Galaxy S23", "cpu_mask": "0xf0"}]}))
    result = run_bench(needle_bench_bin, env, "--list-devices", "--farm", str(farm), "-v")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("local: ") and "logical cores, kernels " in lines[0]
    assert any(line.startswith("adb:PIXEL8 ") and "model:Pixel_8" in line for line in lines), lines
    assert any(line.startswith("adb:R58M123 ") and "model:SM_S911B" in line for line in lines), lines
    assert 'farm: adb:FARM1 "Galaxy S23", cpu_mask 0xf0' in lines
    assert "running adb devices -l" in result.stderr  # -v names the commands
    missing = run_bench(needle_bench_bin, dict(os.environ), "--list-devices", "--adb", str(tmp_path / "no-adb"))
    assert missing.returncode == 0 and "not found (no phones listed)" in missing.stdout
