"""The base of the errors that stop a process, and the settings' own: a leaf module, so that
``settings.py`` raises :class:`SettingsError` without importing ``startup.py`` (which builds the
settings)."""


class StartupError(Exception):
    """A process cannot do its work; ``str(error)`` is one line saying why and what to do."""


class SettingsError(StartupError):
    """A setting is missing, has a value of the wrong type, or is refused (e.g. the default
    ``API_KEY`` with ``ENVIRONMENT=production``)."""
