"""The claims about initialization, one module each. A module defines ``PRESET`` (an
:class:`initlab.experiments.claim.Preset`); :data:`initlab.experiments.presets.PRESETS` collects
them in the order of their ``order`` field. Adding a claim is adding a module here."""
