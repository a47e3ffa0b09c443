from workers.models import Host


def test_host_password_is_write_only(admin_client, db):
    form = {
        "name": "hv1",
        "endpoint": "hv1.example.test",
        "port": 5986,
        "transport": "ntlm",
        "use_tls": "on",
        "username": "svc-nestlab",
        "new_password": "Top-Secret-42",
        "site": "default",
        "logical_cpus": 32,
        "memory_mb": 131072,
        "memory_reserved_mb": 4096,
        "storage_gb": 2000,
        "vcpu_overcommit": "4",
        "max_parallel_operations": 4,
        "vm_root": r"C:\Nestlab\Labs",
        "state": "enabled",
        "allocations-TOTAL_FORMS": 0,
        "allocations-INITIAL_FORMS": 0,
    }
    response = admin_client.post("/admin/workers/host/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    host = Host.objects.get(name="hv1")
    assert host.get_password() == "Top-Secret-42"
    page = admin_client.get(f"/admin/workers/host/{host.pk}/change/").content.decode()
    assert "Top-Secret-42" not in page and host.password_ciphertext not in page
    response = admin_client.post(f"/admin/workers/host/{host.pk}/change/", {**form, "new_password": ""})
    assert response.status_code == 302
    assert Host.objects.get(pk=host.pk).get_password() == "Top-Secret-42"
