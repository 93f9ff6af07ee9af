"""Translations: the runtime translator (`translator`) and the catalog tooling (`catalogs`)."""
