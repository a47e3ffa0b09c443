"""The simulated Hyper-V host: its model (``model.py``), facts about Windows (``facts.py``), the
objects cmdlets return (``views.py``) and the cmdlets themselves (``cmdlets_*.py``)."""
