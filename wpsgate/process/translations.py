"""Translations of titles, abstracts and keywords (WPS 1.0.0 §9, multilingual servers).

A process, input or output may carry ``translations``, in PyWPS's shape:
``{"fr-CA": {"title": "Mon titre", "abstract": "..."}}``.  Languages are matched
case-insensitively (RFC 4646 tags are); a field with no translation for the
language falls back to the untranslated value.
"""
from __future__ import annotations

from typing import Any, Mapping


def normalise_translations(translations: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """``translations`` keyed by lowercased language tag; raises ValueError for another shape."""
    if not translations:
        return {}
    if not isinstance(translations, Mapping):
        raise ValueError("translations must map a language tag to a mapping of translated fields")
    result: dict[str, dict[str, Any]] = {}
    for language, fields in translations.items():
        if not isinstance(language, str) or not isinstance(fields, Mapping):
            raise ValueError("translations must map a language tag to a mapping of translated fields")
        result[language.lower()] = dict(fields)
    return result


def translated(item: Any, field: str, language: str | None) -> Any:
    """``item.<field>`` in ``language`` when a translation exists, else the value itself."""
    value = getattr(item, field)
    if not language:
        return value
    table = getattr(item, "translations", None) or {}
    return table.get(language.lower(), {}).get(field, value)
