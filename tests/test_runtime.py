import pytest
import torch

from autobalance.runtime import available_cpus, configure_threads


def test_a_cgroup_quota_caps_the_cpus(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # 1.5 CPUs
    assert available_cpus(tmp_path / "cpu.max") == 1
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert available_cpus(tmp_path / "cpu.max") >= 1


def test_threads_are_shared_among_concurrent_jobs_unless_the_user_chose(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setattr("autobalance.runtime.available_cpus", lambda: 4)
        assert configure_threads(2) == 2
        assert configure_threads(8) == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        torch.set_num_threads(3)
        assert configure_threads(2) == 3
    finally:
        torch.set_num_threads(before)


def test_a_missing_gpu_is_an_input_error_naming_the_way_out(monkeypatch):
    import torch

    from autobalance.errors import InputError
    from autobalance.runtime import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="device=cuda but no CUDA device is visible; use device=auto or cpu"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"
