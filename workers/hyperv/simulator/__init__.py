"""hvsim: a Hyper-V host simulator that speaks real WinRM.

Standalone (it never imports Django): ``python -m workers.hyperv.simulator --port 0`` prints
``listening on http://127.0.0.1:<port>/wsman``. pywinrm and pypsrp talk to it unmodified; it runs
the subset of Windows PowerShell 5.1 and the Hyper-V module that Nestlab uses, with Microsoft's
documented semantics, capacity, persistence, latency and injected faults. See the README, "Simulated hosts".
Tests start it with :func:`workers.hyperv.simulator.testing.run_simulator`.
"""
