"""The prompt registry: content-addressed versions, labels with history, tracking mode.

One class, :class:`Registry`, in parts named after what they do: resolution (reading, through
the cache), versions (writing content) and labels (moving labels and the active version)."""

from prompt_ledger.services.registry.base import PromptCache
from prompt_ledger.services.registry.content import content_of, defaults_text, template_text
from prompt_ledger.services.registry.labels import Labels
from prompt_ledger.services.registry.versions import Versions

__all__ = ["PromptCache", "Registry", "content_of", "defaults_text", "template_text"]


class Registry(Versions, Labels):
    """The registry service the container builds: every operation of its parts."""
