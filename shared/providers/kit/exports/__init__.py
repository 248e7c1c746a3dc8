"""The shared loader of file-based FOCUS exports (files plus a manifest in object storage): see model.py for the
interface a provider implements, load.py for the semantics."""

from shared.providers.kit.exports.load import load_export
from shared.providers.kit.exports.model import Delivery, ExportFile, ExportSource, ExportSpec
from shared.providers.kit.exports.periods import export_load_window

__all__ = ["Delivery", "ExportFile", "ExportSource", "ExportSpec", "export_load_window", "load_export"]
